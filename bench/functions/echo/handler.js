'use strict'
module.exports = async (event, context) => context.status(200).headers({ 'content-type': 'application/json' }).succeed(event.body)
