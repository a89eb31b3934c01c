#!/usr/bin/env node
// `remedy <command>`: runs the bundle cli/build.js made (dist/remedy.js); nothing is compiled
// here unless a source is newer than the bundle (a checkout without `npm ci`, or an edit), then
// it is rebuilt once, with a note on stderr.
"use strict";
const builder = require("./build");

// The AWS SDK warns on every command under Node 20 that its releases after early January 2027
// need Node 22. The lockfile pins releases that support Node 20, and the README says which Node
// remedy supports: one line of noise per command is not how an operator should learn it.
if (Number(process.versions.node.split(".")[0]) < 22 && process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED === undefined) {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";
}

if (builder.stale()) {
  process.stderr.write("remedy: building the CLI (dist/remedy.js is missing or older than its sources)\n");
  builder.build();
}

/** Exits once stdout and stderr have handed everything to the OS (pipes are asynchronous on POSIX). */
function exitAfterFlush(code) {
  process.exitCode = code;
  let pending = 2;
  const done = () => {
    if (--pending === 0) process.exit(code);
  };
  process.stdout.write("", done);
  process.stderr.write("", done);
}

require(builder.OUT)
  .main(process.argv.slice(2))
  .then(exitAfterFlush, (err) => {
    console.error(err);
    exitAfterFlush(2);
  });
