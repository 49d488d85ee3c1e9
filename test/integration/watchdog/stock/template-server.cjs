// A stock-style OpenFaaS node template server, written for this project from the documented contract
// (docs/openfaas-contract.md §5.2, "index.js"), not copied from openfaas/templates. It is
// the upstream half of the "stock pair" the watchdog is compared with: of-watchdog (here its stand-in,
// watchdog-standin.js) reverse-proxies every request to this express server, which calls the handler.
//
//   FUNCTION_DIR=<dir with handler.js> http_port=3000 node template-server.cjs
//
// Behaviour (each line is one documented rule):
// - express with x-powered-by disabled; a request without content-type gets `text/plain` before parsing.
// - RAW_BODY=true: bodyParser.raw for every type, limit MAX_RAW_SIZE || 100kb, body is a Buffer. Otherwise
//   bodyParser.text for text/*, bodyParser.json (limit MAX_JSON_SIZE || 100kb), urlencoded (extended).
// - event = {body, headers, method, query, path}; context has status(), headers(), succeed(), fail(),
//   with fail() turning a 200 into a 500, and a getter form when called without an argument.
// - the handler is called as (event, context, callback); a value it returns (or resolves to) goes to
//   succeed() unless succeed or fail was called; a throw or rejection sends err.toString() with the
//   context's status (200 unless the handler changed it) and without the context's headers.
// - results whose constructor is Array or Object are sent as JSON.stringify text (Express then picks
//   text/html), anything else through res.send as it is.
// - listens on http_port || 3000 and answers every method and path.
'use strict';
const { createRequire } = require('node:module');
const path = require('node:path');

const express = require('express');
const bodyParser = require('body-parser');

const fnDir = path.resolve(process.env.FUNCTION_DIR || './function');
const handler = createRequire(path.join(fnDir, 'noop.js'))('./handler.js');

const app = express();
app.disable('x-powered-by');

app.use((req, _res, next) => {
  if (!req.headers['content-type']) req.headers['content-type'] = 'text/plain';
  next();
});
if (process.env.RAW_BODY === 'true') {
  app.use(bodyParser.raw({ type: '*/*', limit: process.env.MAX_RAW_SIZE || '100kb' }));
} else {
  app.use(bodyParser.text({ type: 'text/*' }));
  app.use(bodyParser.json({ limit: process.env.MAX_JSON_SIZE || '100kb' }));
  app.use(bodyParser.urlencoded({ extended: true }));
}

function plainObjectOrArray(v) {
  return !!v && (v.constructor === Object || v.constructor === Array);
}

class Context {
  constructor(callback) {
    this.statusCode = 200;
    this.cb = callback;
    this.headerValues = {};
    this.cbCalled = 0;
  }
  status(code) {
    if (!code) return this.statusCode;
    this.statusCode = code;
    return this;
  }
  headers(map) {
    if (!map) return this.headerValues;
    this.headerValues = map;
    return this;
  }
  succeed(value) {
    this.cbCalled++;
    this.cb(undefined, value);
  }
  fail(value) {
    if (this.status() == '200') this.status(500);
    this.cbCalled++;
    this.cb(value, undefined);
  }
}

app.use(async (req, res) => {
  const callback = (err, result) => {
    if (err) {
      console.error(err);
      res.status(context.status()).send(err.toString ? err.toString() : err);
      return;
    }
    const body = plainObjectOrArray(result) ? JSON.stringify(result) : result;
    res.set(context.headers()).status(context.status()).send(body);
  };
  const event = { body: req.body, headers: req.headers, method: req.method, query: req.query, path: req.path };
  const context = new Context(callback);
  Promise.resolve(handler(event, context, callback))
    .then((value) => {
      if (!context.cbCalled) context.succeed(value);
    })
    .catch((e) => callback(e));
});

const port = Number(process.env.http_port || 3000);
app.listen(port, '127.0.0.1', () => console.log(`stock-style template listening on port: ${port}`));
process.on('SIGTERM', () => process.exit(0));
