'use strict'

// An OpenFaaS function: event has body, headers, method, query and path; context sets the answer.
module.exports = async (event, context) => {
  const result = {
    body: JSON.stringify(event.body),
    'content-type': event.headers['content-type'],
  }
  return context.status(200).succeed(result)
}
