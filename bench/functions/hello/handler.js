'use strict'
module.exports = async () => 'Hello, world'
