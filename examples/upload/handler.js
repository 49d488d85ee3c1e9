// The paper's 'upload' benchmark, ported from emilyaherbert/containerless at 1adf83d2,
// containerless/javascript/benchmarks/upload.js. The code below is the original, unmodified except that the
// backend address http://10.200.0.1:7999 became http://127.0.0.1:7998 (examples/backend/server.js).
// What it does: POST /upload with the request body.
//
// The request object is {path, query, body}. In the original (javascript/containerless/ts/callbacks.ts,
// lines 347-365) `path` is Express's req.path, which KEEPS the leading slash ('/login', which is why the
// benchmarks compare with '/login' and autocomplete prefixes its words with '/'); only the root is '' instead
// of '/'. `body` is {} for a GET and the parsed JSON body for a POST, so it is never undefined.
let containerless = require('containerless');

containerless.listen(function(req) {
    if(req.path === '/upload') {
        if(req.body !== undefined) {
            containerless.post({
                url: 'http://127.0.0.1:7998/upload',
                body: req.body
            }, function(resp) {
                containerless.respond(resp.body);
            });
        } else {
            containerless.respond("No file to upload.\n");
        }
    } else {
        containerless.respond("Unknown command.\n");
    }
});
