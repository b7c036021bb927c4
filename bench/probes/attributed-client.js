// Preload (node -r) for etherpad-load-test and latency.js (chaton bench, issues #10 and #21).
//
// Etherpad 3 refuses an insert that does not carry its author's attribute
// (PadMessageHandler: "submitted an insert without an author attribute") and
// disconnects the client with "badChangeset". etherpad-cli-client 3.0.5, the
// newest on npm and the client etherpad-load-test drives, sends its inserts
// bare, so against Etherpad 3 every author is refused and no commit is ever
// accepted. This replaces its connect() with a client that tags each insert
// with the author the server gave it (CLIENT_VARS userId), as Etherpad's own
// web client does. Same events (connected, message, newContents, disconnect)
// and methods (append, close); the changeset arithmetic is the library's.
'use strict';
const {EventEmitter} = require('events');
const crypto = require('crypto');
const client = require('etherpad-cli-client');
const Changeset = require('etherpad-cli-client/lib/Changeset');
const AttributePool = require('etherpad-cli-client/lib/AttributePool');
const superagent = require('superagent');
const io = require('socket.io-client');

const token = (n) => crypto.randomBytes(n).toString('base64url').slice(0, n);

// Each client connects from an address of its own in 127.0.0.0/8 (all of it is
// the loopback on Linux), as users come from theirs: Etherpad in production
// accepts 10 socket messages per second per address (commitRateLimiting, then
// "Rate limited IP" and a disconnect), which a crowd sharing 127.0.0.1 exceeds
// as it connects. Through nginx the address reaches Etherpad in
// X-Forwarded-For (trustProxy). The websocket transport is the one that can
// take a local address (engine.io-client's polling cannot).
const ownAddress = () =>
  `127.${1 + crypto.randomInt(254)}.${crypto.randomInt(256)}.${1 + crypto.randomInt(254)}`;

client.connect = (url) => {
  const ee = new EventEmitter();
  const parsed = new URL(url);
  const at = parsed.pathname.indexOf('/p/');
  const base = at >= 0 ? parsed.pathname.slice(0, at) : '';
  const padId = at >= 0 ? parsed.pathname.slice(at + 3) : token(10);
  // atext/apool/baseRev: the pad as this client sees it; inFlight: the
  // change the server has not accepted yet; outgoing: what waits behind it.
  const pad = {host: parsed.origin, padId, inFlight: null, outgoing: null};

  const send = () => {
    if (pad.inFlight || !pad.outgoing) return;
    pad.inFlight = pad.outgoing;
    pad.outgoing = null;
    const wire = new AttributePool();
    const changeset = Changeset.moveOpsToNewPool(pad.inFlight.changeset, pad.apool, wire);
    pad.socket.emit('message', {
      type: 'COLLABROOM',
      component: 'pad',
      data: {type: 'USER_CHANGES', baseRev: pad.inFlight.baseRev, changeset, apool: wire.toJsonable()},
    });
  };

  // A change from the server moves over what this client has not had accepted yet.
  const rebase = (mine, server) => {
    const followed = Changeset.follow(server.changeset, mine.changeset, false, pad.apool);
    server.changeset = Changeset.follow(mine.changeset, server.changeset, true, pad.apool);
    mine.changeset = followed;
  };

  const onMessage = (msg) => {
    ee.emit('message', msg);
    if (msg.disconnect) {
      ee.emit('disconnect', msg.disconnect);
      return;
    }
    if (msg.type === 'CLIENT_VARS') {
      const vars = msg.data.collab_client_vars;
      pad.atext = vars.initialAttributedText;
      pad.apool = new AttributePool().fromJsonable(vars.apool);
      pad.baseRev = vars.rev;
      pad.author = msg.data.userId;
      pad.numConnectedUsers = msg.data.numConnectedUsers;
      ee.emit('connected', pad);
      return;
    }
    const data = msg.type === 'COLLABROOM' && msg.data;
    if (!data || data.newRev == null || data.newRev <= pad.baseRev) return;
    if (data.type === 'NEW_CHANGES') {
      const wire = new AttributePool().fromJsonable(data.apool);
      const server = {changeset: Changeset.moveOpsToNewPool(data.changeset, wire, pad.apool)};
      if (pad.inFlight) rebase(pad.inFlight, server);
      if (pad.outgoing) {
        rebase(pad.outgoing, server);
        pad.outgoing.baseRev = data.newRev;
      }
      pad.atext = Changeset.applyToAText(server.changeset, pad.atext, pad.apool);
      pad.baseRev = data.newRev;
      ee.emit('newContents', pad.atext);
    } else if (data.type === 'ACCEPT_COMMIT') {
      pad.baseRev = data.newRev;
      pad.inFlight = null;
      if (pad.outgoing) pad.outgoing.baseRev = data.newRev;
      send();
    }
  };

  // Text goes before the pad's final newline, tagged with this client's author.
  ee.append = (text) => {
    if (!pad.author) throw new Error('not connected yet');
    const end = pad.atext.text.length - 1;
    const change = Changeset.makeSplice(pad.atext.text, end, 0, text, [['author', pad.author]], pad.apool);
    pad.atext = Changeset.applyToAText(change, pad.atext, pad.apool);
    if (pad.outgoing) {
      pad.outgoing.changeset = Changeset.compose(pad.outgoing.changeset, change, pad.apool);
    } else {
      pad.outgoing = {changeset: change, baseRev: pad.baseRev};
    }
    send();
  };
  ee.close = () => pad.socket && pad.socket.close();

  // The pad page first, as a browser opens it; then the collaboration socket.
  superagent.get(`${pad.host}${base}/p/${padId}`).then(() => {
    pad.socket = io(pad.host, {
      path: `${base}/socket.io`,
      query: {padId},
      forceNew: true,
      timeout: 1000,
      transports: ['websocket'],
      localAddress: ownAddress(),
    });
    pad.socket.on('connect', () => pad.socket.emit('message', {
      component: 'pad',
      type: 'CLIENT_READY',
      padId,
      sessionID: token(16),
      password: false,
      token: `t.${token(20)}`,
      protocolVersion: 2,
    }));
    pad.socket.on('message', onMessage);
    for (const ev of ['disconnect', 'connect_error']) pad.socket.on(ev, (e) => ee.emit(ev, e));
  }, (e) => ee.emit('connect_error', e));
  return ee;
};
