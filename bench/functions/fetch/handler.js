'use strict'
// Awaits one fetch to the local backend (examples/backend/server.js) at BACKEND_URL.
module.exports = async () => {
  const r = await fetch(process.env.BACKEND_URL + '/ready')
  const text = await r.text()
  return { backend: text, status: r.status }
}
