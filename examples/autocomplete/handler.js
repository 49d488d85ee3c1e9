// The paper's 'autocomplete' benchmark, ported from emilyaherbert/containerless at 1adf83d2,
// containerless/javascript/benchmarks/autocomplete.js. The code below is the original, unmodified except that the
// backend address http://10.200.0.1:7999 became http://127.0.0.1:7998 (examples/backend/server.js).
// What it does: no I/O: prefix match of the request path against 100 words.
//
// The request object is {path, query, body}. In the original (javascript/containerless/ts/callbacks.ts,
// lines 347-365) `path` is Express's req.path, which KEEPS the leading slash ('/login', which is why the
// benchmarks compare with '/login' and autocomplete prefixes its words with '/'); only the root is '' instead
// of '/'. `body` is {} for a GET and the parsed JSON body for a POST, so it is never undefined.
let containerless = require('containerless');

let words = [
    "time",
    "year",
    "people",
    "way",
    "day",
    "man",
    "thing",
    "woman",
    "life",
    "child",
    "world",
    "school",
    "state",
    "family",
    "student",
    "group",
    "country",
    "problem",
    "hand",
    "part",
    "place",
    "case",
    "week",
    "company",
    "system",
    "program",
    "question",
    "work",
    "government",
    "number",
    "night",
    "point",
    "home",
    "water",
    "room",
    "mother",
    "area",
    "money",
    "story",
    "fact",
    "month",
    "lot",
    "right",
    "study",
    "book",
    "eye",
    "job",
    "word",
    "business",
    "issue",
    "side",
    "kind",
    "head",
    "house",
    "service",
    "friend",
    "father",
    "power",
    "hour",
    "game",
    "line",
    "end",
    "member",
    "law",
    "car",
    "city",
    "community",
    "name",
    "president",
    "team",
    "minute",
    "idea",
    "kid",
    "body",
    "information",
    "back",
    "parent",
    "face",
    "others",
    "level",
    "office",
    "door",
    "health",
    "person",
    "art",
    "war",
    "history",
    "party",
    "result",
    "change",
    "morning",
    "reason",
    "research",
    "girl",
    "guy",
    "moment",
    "air",
    "teacher",
    "force",
    "education",
];

containerless.listen(function(req) {
    let matches = [];
    for(let i=0; i<words.length; i = i + 1) {
        let word = words[i];
        if((req.path.length > 1) && word.length >= (req.path.length - 1)) {
            let x = "/" + words[i];
            let match = x.startsWith(req.path);
            if(match) {
                matches.push(word);
            }
        }
    }
    if(matches.length === 0) {
        containerless.respond("No matches found!\n");
    } else {
        containerless.respond(matches + "\n");
    }
});
