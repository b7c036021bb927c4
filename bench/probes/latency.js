#!/usr/bin/env node
// Edit round-trip latency of one Etherpad pad (chaton bench, issue #10).
// One author appends 4 characters, waits for the server's ACCEPT_COMMIT
// (author round trip) while an observer on the same pad waits for the change
// to arrive (edit seen by another user), then pauses and edits again.
// Usage: latency.js <pad URL> <seconds>; prints one JSON line.
'use strict';
const etherpad = require('etherpad-cli-client');

const url = process.argv[2];
const seconds = Number(process.argv[3] || 30);
const accept = [];
const seen = [];
const errors = [];
let sentAt = null;
let marker = null;
let observerReady = false;

const observer = etherpad.connect(url);
observer.on('connected', () => { observerReady = true; });
observer.on('newContents', (atext) => {
  if (marker && sentAt && atext.text.includes(marker)) {
    seen.push(Date.now() - sentAt);
    marker = null;
  }
});
const author = etherpad.connect(url);
for (const ee of [author, observer]) {
  for (const ev of ['connect_error', 'connect_timeout', 'disconnect']) {
    ee.on(ev, (e) => errors.push(`${ev}: ${e}`));
  }
}
let n = 0;
const edit = () => {
  n += 1;
  marker = `~${n}#`;
  sentAt = Date.now();
  author.append(marker);
};
author.on('message', (msg) => {
  if (msg.type === 'COLLABROOM' && msg.data && msg.data.type === 'ACCEPT_COMMIT' && sentAt) {
    accept.push(Date.now() - sentAt);
    setTimeout(edit, 400);
  }
});
author.on('connected', () => {
  const wait = () => (observerReady ? edit() : setTimeout(wait, 100));
  wait();
});
setTimeout(() => {
  console.log(JSON.stringify({url, accept_ms: accept, seen_ms: seen, errors}));
  process.exit(accept.length ? 0 : 1);
}, seconds * 1000);
