// A real SMTP receiver for the alert tests: it listens on 127.0.0.1, speaks enough of RFC 5321 for a client
// that sends plain mail (EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT), and keeps each message it accepts,
// decoded (quoted-printable or base64 bodies, RFC 2047 subjects), so a test can wait for the alert's email.

import net from 'node:net';

const MAX_MESSAGE = 10 * 1024 * 1024;

function decodeQuotedPrintable(text) {
  const bytes = [];
  const soft = text.replace(/=\r?\n/g, '');
  for (let i = 0; i < soft.length; i += 1) {
    if (soft[i] === '=' && /^[0-9A-Fa-f]{2}$/.test(soft.slice(i + 1, i + 3))) {
      bytes.push(parseInt(soft.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      bytes.push(...Buffer.from(soft[i], 'utf8'));
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/** `=?utf-8?b?...?=` and `=?utf-8?q?...?=` words of a header, decoded. */
function decodeWords(value) {
  return value.replace(/=\?([^?]+)\?([bBqQ])\?([^?]*)\?=\s*/g, (_, charset, encoding, text) => (encoding.toUpperCase() === 'B'
    ? Buffer.from(text, 'base64').toString('utf8')
    : decodeQuotedPrintable(text.replace(/_/g, ' '))));
}

/** Headers (lower-case names, folded lines joined) and the decoded body of a message. */
export function parseMessage(raw) {
  const split = raw.search(/\r?\n\r?\n/);
  const head = split < 0 ? raw : raw.slice(0, split);
  const rest = split < 0 ? '' : raw.slice(split).replace(/^\r?\n\r?\n/, '');
  const headers = {};
  for (const line of head.replace(/\r?\n[ \t]+/g, ' ').split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = decodeWords(line.slice(colon + 1).trim());
  }
  const encoding = (headers['content-transfer-encoding'] || '').toLowerCase();
  let body = rest;
  if (encoding === 'base64') body = Buffer.from(rest.replace(/\s+/g, ''), 'base64').toString('utf8');
  else if (encoding === 'quoted-printable') body = decodeQuotedPrintable(rest);
  return {headers, subject: headers.subject || '', body};
}

/** Starts the receiver; resolves to `{url, messages, waitFor(predicate, ms), stop()}`. */
export async function startSmtp() {
  const messages = [];
  const waiters = new Set();
  const sockets = new Set();

  function accepted(message) {
    messages.push(message);
    for (const waiter of [...waiters]) waiter();
  }

  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    socket.setEncoding('utf8');
    let buffer = '';
    let inData = false;
    let data = [];
    let envelope = {from: null, to: []};
    const reply = (line) => socket.write(`${line}\r\n`);

    function command(line) {
      const verb = line.slice(0, 4).toUpperCase();
      if (verb === 'EHLO') {
        reply('250-acta-test-smtp greets you');
        reply('250-8BITMIME');
        reply(`250 SIZE ${MAX_MESSAGE}`);
      } else if (verb === 'HELO') {
        reply('250 acta-test-smtp');
      } else if (/^MAIL FROM:/i.test(line)) {
        envelope = {from: line.slice(10).trim().replace(/^<|>.*$/g, ''), to: []};
        reply('250 OK');
      } else if (/^RCPT TO:/i.test(line)) {
        if (envelope.from === null) {
          reply('503 MAIL first');
          return;
        }
        envelope.to.push(line.slice(8).trim().replace(/^<|>.*$/g, ''));
        reply('250 OK');
      } else if (verb === 'DATA') {
        if (!envelope.to.length) {
          reply('503 RCPT first');
          return;
        }
        inData = true;
        data = [];
        reply('354 End data with <CR><LF>.<CR><LF>');
      } else if (verb === 'RSET') {
        envelope = {from: null, to: []};
        reply('250 OK');
      } else if (verb === 'NOOP') {
        reply('250 OK');
      } else if (verb === 'QUIT') {
        reply('221 Bye');
        socket.end();
      } else {
        reply('502 Command not implemented');
      }
    }

    socket.on('data', (chunk) => {
      buffer += chunk;
      if (buffer.length > MAX_MESSAGE) {
        reply('552 Message too big');
        socket.destroy();
        return;
      }
      let newline;
      while ((newline = buffer.indexOf('\r\n')) >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 2);
        if (inData) {
          if (line === '.') {
            inData = false;
            const raw = data.join('\r\n');
            accepted({...envelope, raw, ...parseMessage(raw)});
            envelope = {from: null, to: []};
            reply(`250 OK queued as ${messages.length}`);
          } else {
            data.push(line.startsWith('.') ? line.slice(1) : line); // dot-stuffing
          }
        } else {
          command(line);
        }
      }
    });
    reply('220 acta-test-smtp ESMTP');
  });

  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const {port} = server.address();
  return {
    url: `smtp://127.0.0.1:${port}`,
    messages,
    /** Resolves with the first message matching `predicate`, or rejects after `ms`. */
    waitFor(predicate, ms = 20_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = messages.find(predicate);
          if (!found) return false;
          waiters.delete(check);
          clearTimeout(timer);
          resolve(found);
          return true;
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no matching email within ${ms} ms; received: ${JSON.stringify(messages.map((m) => m.subject))}`));
        }, ms);
        waiters.add(check);
        check();
      });
    },
    async stop() {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
