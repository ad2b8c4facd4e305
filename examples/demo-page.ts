/** The browser page the demo serves at GET /: an echo test page in the classic style. */
export const DEMO_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>wsframe echo test</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  body { font: 15px/1.4 system-ui, sans-serif; max-width: 44rem; margin: 2rem auto; padding: 0 1rem; }
  fieldset { margin-bottom: 1rem; }
  #status { font-weight: bold; }
  #status.open { color: #176b21; } #status.closed { color: #a11; }
  #output { list-style: none; padding: 0; border: 1px solid #ccc; min-height: 8rem; max-height: 24rem; overflow: auto; }
  #output li { padding: .2rem .5rem; border-bottom: 1px solid #eee; white-space: pre-wrap; word-break: break-all; }
  #output li.sent { color: #124; } #output li.received { color: #060; } #output li.info { color: #777; }
  input[type=text] { width: 60%; }
</style>
</head>
<body>
<h1>wsframe echo test</h1>
<fieldset>
  <legend>Connection</legend>
  <label><input type="radio" name="endpoint" value="/echo" checked> echo</label>
  <label><input type="radio" name="endpoint" value="/chat"> chat</label>
  <button id="connect">Connect</button>
  <button id="disconnect" disabled>Disconnect</button>
  <span>Status: <span id="status" class="closed">CLOSED</span></span>
</fieldset>
<fieldset>
  <legend>Message</legend>
  <form id="form">
    <input id="message" type="text" value="Hello, WebSocket!" autocomplete="off">
    <button id="send" type="submit" disabled>Send</button>
  </form>
</fieldset>
<ul id="output"></ul>
<script>
(() => {
  const $ = (id) => document.getElementById(id);
  const states = ['CONNECTING', 'OPEN', 'CLOSING', 'CLOSED'];
  let ws = null;

  // Text goes in with textContent, never innerHTML: received messages are untrusted.
  function log(kind, text) {
    const li = document.createElement('li');
    li.className = kind;
    li.textContent = text;
    $('output').appendChild(li);
    li.scrollIntoView({ block: 'nearest' });
  }

  function show() {
    const state = ws ? ws.readyState : 3;
    $('status').textContent = states[state];
    $('status').className = state === 1 ? 'open' : 'closed';
    $('send').disabled = state !== 1;
    $('connect').disabled = state === 0 || state === 1;
    $('disconnect').disabled = state !== 1;
  }

  function connect() {
    const path = document.querySelector('input[name=endpoint]:checked').value;
    const url = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + path;
    ws = new WebSocket(url);
    ws.binaryType = 'arraybuffer';
    show();
    ws.onopen = () => { log('info', 'CONNECTED to ' + url); show(); };
    ws.onmessage = (event) => {
      const data = typeof event.data === 'string' ? event.data : '[binary, ' + event.data.byteLength + ' bytes]';
      log('received', 'RECEIVED: ' + data);
    };
    ws.onerror = () => log('info', 'ERROR');
    ws.onclose = (event) => {
      log('info', 'DISCONNECTED (' + event.code + (event.reason ? ' ' + event.reason : '') + ')');
      show();
    };
  }

  $('connect').onclick = connect;
  // Switching between echo and chat while connected reconnects to the other endpoint.
  document.querySelectorAll('input[name=endpoint]').forEach((radio) => {
    radio.onchange = () => {
      if (!ws || ws.readyState !== 1) return;
      const old = ws;
      old.onclose = (event) => {
        log('info', 'DISCONNECTED (' + event.code + ')');
        connect();
      };
      old.close(1000, 'switching endpoint');
    };
  });
  $('disconnect').onclick = () => { if (ws) ws.close(1000, 'bye'); show(); };
  $('form').onsubmit = (event) => {
    event.preventDefault();
    if (!ws || ws.readyState !== 1) return;
    const text = $('message').value;
    ws.send(text);
    log('sent', 'SENT: ' + text);
  };
  connect();
})();
</script>
</body>
</html>
`;
