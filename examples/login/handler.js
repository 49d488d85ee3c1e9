// The paper's 'login' benchmark, ported from emilyaherbert/containerless at 1adf83d2,
// containerless/javascript/benchmarks/login.js. The code below is the original, unmodified except that the
// backend address http://10.200.0.1:7999 became http://127.0.0.1:7998 (examples/backend/server.js).
// What it does: POST /login to the backend; compares the answer with the request's username/password.
//
// The request object is {path, query, body}. In the original (javascript/containerless/ts/callbacks.ts,
// lines 347-365) `path` is Express's req.path, which KEEPS the leading slash ('/login', which is why the
// benchmarks compare with '/login' and autocomplete prefixes its words with '/'); only the root is '' instead
// of '/'. `body` is {} for a GET and the parsed JSON body for a POST, so it is never undefined.
let containerless = require('containerless');

containerless.listen(function(req) {
    if(req.path === '/login') {
	let u = req.body.username;
	let p = req.body.password;
	if(u === undefined || p === undefined) {
	    containerless.respond("Username or password not found.\n")
	} else {
            containerless.post({
                    url: 'http://127.0.0.1:7998/login',
                    body: req.body
                }, function(resp) {
                if(resp.username === undefined || resp.password === undefined) {
                    containerless.respond(resp.body);
                } else if(resp.username === u && resp.password === p) {
                    containerless.respond("Login successful!");
                } else {
                    containerless.respond(resp.body);
                }
            });
	}
    } else {
        containerless.respond("Unknown command.");
    }
});
