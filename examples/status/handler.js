// The paper's 'status' benchmark, ported from emilyaherbert/containerless at 1adf83d2,
// containerless/javascript/benchmarks/status.js. The code below is the original, unmodified except that the
// backend address http://10.200.0.1:7999 became http://127.0.0.1:7998 (examples/backend/server.js).
// What it does: GET /status (the latest commit), then POST /status?sha=<sha> with the new state.
//
// The request object is {path, query, body}. In the original (javascript/containerless/ts/callbacks.ts,
// lines 347-365) `path` is Express's req.path, which KEEPS the leading slash ('/login', which is why the
// benchmarks compare with '/login' and autocomplete prefixes its words with '/'); only the root is '' instead
// of '/'. `body` is {} for a GET and the parsed JSON body for a POST, so it is never undefined.
let containerless = require('containerless');

containerless.listen(function(req) {
    if(req.path === '/status') {
        if (typeof req.body.username !== 'string') {
            containerless.respond('Username missing');
            return;
        }
        if (typeof req.body.token !== 'string') {
            containerless.respond('Token missing');
            return;
        }
        if (typeof req.body.state !== 'string') {
            containerless.respond('State missing');
            return;
        }

        containerless.get('http://127.0.0.1:7998/status',
          function(resp1) {
	    if (typeof resp1.commit !== 'object') {
		containerless.respond("No commit.");
		return;
	    }
            if (typeof resp1.commit.sha !== 'string') {
                containerless.respond('No SHA.');
		return;
            }
		  
            containerless.post({
                'url': 'http://127.0.0.1:7998/status?sha=' + resp1.commit.sha,
                'headers': {
                    'User-Agent': req.body.username
                },
                'auth': {
                    'username': req.body.username,
                    'password': req.body.token
                },
                'body': {
                    'state': req.body.state
                }
            }, function(resp2) {
                containerless.respond(resp2.body);
            });
        });
    } else {
        containerless.respond("Unknown command.");
    }
});
