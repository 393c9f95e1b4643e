// ipc-gateway's browser script: makes the unmodified @tauri-apps/api (and pytauri's pyInvoke)
// work in a plain browser page. Load it before the app, as a classic script:
//
//   <script src="http://127.0.0.1:1430/__gateway/tauri.js?window=main"></script>
//
// The page keeps one WebSocket (/ipc/ws): what the gateway pushes (channel messages, events,
// eval) arrives on it, and invocations travel on it once it is open — a message costs the browser a
// small fraction of a fetch. Before that, for bodies over 64 KiB (so they never hold up small calls
// behind them), and with `?transport=http`, invocations are POST /ipc/<cmd> (Tauri's IPC protocol
// over HTTP). Both answer alike. Frames: docs/protocol.md.
(function () {
  "use strict";
  if (window.__TAURI_INTERNALS__ && window.__TAURI_INTERNALS__.gateway) return; // loaded twice

  var script = document.currentScript;
  var source = new URL(script && script.src ? script.src : location.href);
  var base = source.origin;
  var label = source.searchParams.get("window") || "main";
  var token = source.searchParams.get("token");
  var overSocket = source.searchParams.get("transport") !== "http";
  /** Bodies larger than this go over HTTP, beside the socket, instead of queueing on it. */
  var SOCKET_BODY_LIMIT = 64 * 1024;
  var EVENT_PLUGIN = "plugin:event|";
  var TO_IPC = "__TAURI_TO_IPC_KEY__";
  var CHANNEL_PREFIX = "__CHANNEL__:";

  // ---- callbacks (transformCallback / runCallback), as Tauri keeps them --------------------
  var callbacks = new Map();

  function transformCallback(callback, once) {
    var id = window.crypto.getRandomValues(new Uint32Array(1))[0];
    callbacks.set(id, function (data) {
      if (once) callbacks.delete(id);
      return callback && callback(data);
    });
    return id;
  }

  function unregisterCallback(id) {
    callbacks.delete(id);
  }

  function runCallback(id, data) {
    var callback = callbacks.get(id);
    if (callback) callback(data);
    else console.warn("[ipc-gateway] no callback with id " + id + " (the page may have reloaded while the gateway was streaming)");
  }

  // ---- the page's WebSocket -------------------------------------------------------------
  var socket = null;
  var pageId = null;
  var nextRid = 1;
  var replies = new Map(); // rid -> { resolve, reject }
  var readyWaiters = [];
  var retryMs = 250;
  // Set while the gateway refuses this page's socket (its credential): { kind, message }.
  var refused = null;
  // Listeners survive a reconnect: id the page knows -> { event, target, handler, serverId, active }.
  var listeners = new Map();
  var fromServerId = new Map();

  function connect() {
    var url = base.replace(/^http/, "ws") + "/ipc/ws?window=" + encodeURIComponent(label) + (token ? "&token=" + encodeURIComponent(token) : "");
    var ws = new WebSocket(url);
    ws.binaryType = "arraybuffer";
    socket = ws;
    ws.onmessage = function (message) {
      if (typeof message.data === "string") received(JSON.parse(message.data), undefined);
      else {
        var view = new DataView(message.data);
        var headerLength = view.getUint32(0);
        var header = JSON.parse(new TextDecoder().decode(new Uint8Array(message.data, 4, headerLength)));
        received(header, message.data.slice(4 + headerLength));
      }
    };
    ws.onclose = function (event) {
      pageId = null;
      if (socket !== ws) return;
      // 4401/4403: the gateway refused who this page is (a missing, expired or wrong token, a
      // window label the token does not allow). What waits for the socket fails now, with the
      // gateway's reason; retries go on slowly, for a credential that may change (a cookie).
      if (event && (event.code === 4401 || event.code === 4403)) {
        refused = { kind: event.code === 4401 ? "unauthorized" : "forbidden", message: event.reason || "the gateway refused this page's connection" };
        var waiting = readyWaiters;
        readyWaiters = [];
        waiting.forEach(function (waiter) {
          waiter.reject(refused);
        });
        retryMs = 5000;
      }
      // Never retried: the command may have run. The caller decides.
      replies.forEach(function (pending) {
        pending.reject({
          kind: "connection-lost",
          message: "the connection to the gateway was lost before " + (pending.cmd ? '"' + pending.cmd + '"' : "the call") + " answered; it may or may not have run",
        });
      });
      replies.clear();
      setTimeout(connect, retryMs);
      retryMs = Math.min(retryMs * 2, 5000);
    };
  }

  function received(frame, bytes) {
    switch (frame.type) {
      case "hello":
        pageId = frame.page;
        retryMs = 250;
        refused = null;
        relisten();
        var waiters = readyWaiters;
        readyWaiters = [];
        waiters.forEach(function (waiter) {
          waiter.resolve();
        });
        break;
      case "channel":
        runCallback(frame.channel, { message: bytes !== undefined ? bytes : frame.message, index: frame.index });
        break;
      case "channel-end":
        runCallback(frame.channel, { end: true, index: frame.index });
        break;
      case "event": {
        var id = fromServerId.has(frame.id) ? fromServerId.get(frame.id) : frame.id;
        var listener = listeners.get(id);
        if (listener && listener.active) runCallback(frame.handler, { event: frame.event, id: id, payload: frame.payload });
        break;
      }
      case "eval":
        try {
          (0, eval)(frame.script);
        } catch (error) {
          console.error("[ipc-gateway] eval failed", error);
        }
        break;
      case "reply": {
        var pending = replies.get(frame.rid);
        if (!pending) break;
        replies.delete(frame.rid);
        if (frame.ok) pending.resolve(bytes !== undefined ? bytes : frame.value);
        else pending.reject(frame.error);
        break;
      }
      case "error":
        console.error("[ipc-gateway]", frame.error);
        break;
    }
  }

  function ready() {
    if (pageId !== null) return Promise.resolve();
    if (refused !== null) return Promise.reject(refused);
    return new Promise(function (resolve, reject) {
      readyWaiters.push({ resolve: resolve, reject: reject });
    });
  }

  function send(cmd, body) {
    return ready().then(function () {
      return new Promise(function (resolve, reject) {
        var rid = nextRid++;
        replies.set(rid, { resolve: resolve, reject: reject, cmd: cmd });
        socket.send(JSON.stringify({ type: "invoke", rid: rid, cmd: cmd, body: body }));
      });
    });
  }

  /** One invoke frame on the open socket: JSON text, or a binary frame [u32 length][header][bytes]. */
  function sendInvoke(cmd, encoded, headers) {
    return new Promise(function (resolve, reject) {
      var rid = nextRid++;
      replies.set(rid, { resolve: resolve, reject: reject, cmd: cmd });
      var head = '{"type":"invoke","rid":' + rid + ',"cmd":' + JSON.stringify(cmd) + (headers ? ',"headers":' + JSON.stringify(headers) : "");
      if (encoded.json !== undefined) {
        socket.send(head + ',"body":' + encoded.json + "}");
        return;
      }
      var header = new TextEncoder().encode(head + "}");
      var frame = new Uint8Array(4 + header.length + encoded.bytes.byteLength);
      new DataView(frame.buffer).setUint32(0, header.length);
      frame.set(header, 4);
      frame.set(encoded.bytes, 4 + header.length);
      socket.send(frame);
    });
  }

  /** After a reconnect the gateway has forgotten this page's listeners: register them again. */
  function relisten() {
    listeners.forEach(function (listener, id) {
      if (!listener.active) return;
      send(EVENT_PLUGIN + "listen", { event: listener.event, target: listener.target, handler: listener.handler }).then(function (serverId) {
        fromServerId.delete(listener.serverId);
        listener.serverId = serverId;
        if (serverId !== id) fromServerId.set(serverId, id);
      });
    });
  }

  // ---- the event plugin -------------------------------------------------------------------
  function eventPlugin(command, args) {
    if (command === "listen") {
      return send(EVENT_PLUGIN + "listen", args).then(function (id) {
        listeners.set(id, { event: args.event, target: args.target, handler: args.handler, serverId: id, active: true });
        return id;
      });
    }
    if (command === "unlisten") {
      var listener = listeners.get(args.eventId);
      var serverId = listener ? listener.serverId : args.eventId;
      listeners.delete(args.eventId);
      if (listener) fromServerId.delete(listener.serverId);
      return send(EVENT_PLUGIN + "unlisten", { event: args.event, eventId: serverId });
    }
    return send(EVENT_PLUGIN + command, args);
  }

  /** Stop delivering to a listener at once (the unlisten call that follows tells the gateway). */
  function unregisterListener(event, eventId) {
    var listener = listeners.get(eventId);
    if (!listener) return;
    listener.active = false;
    unregisterCallback(listener.handler);
  }

  // ---- invoke -----------------------------------------------------------------------------
  function invoke(cmd, args, options) {
    if (args === undefined) args = {};
    if (cmd.indexOf(EVENT_PLUGIN) === 0) return eventPlugin(cmd.slice(EVENT_PLUGIN.length), args);
    var encoded = encode(args);
    var size = encoded.json !== undefined ? encoded.json.length : encoded.bytes.byteLength;
    if (overSocket && pageId !== null && socket.readyState === WebSocket.OPEN && size <= SOCKET_BODY_LIMIT) {
      return sendInvoke(cmd, encoded, headerObject(options && options.headers));
    }
    return invokeOverHttp(cmd, encoded, options);
  }

  /** The body as JSON text (a Channel as "__CHANNEL__:<id>"), or as bytes: Tauri's rules. */
  function encode(args) {
    if (args instanceof ArrayBuffer || ArrayBuffer.isView(args) || Array.isArray(args)) {
      var bytes = args instanceof ArrayBuffer ? new Uint8Array(args) : Array.isArray(args) ? new Uint8Array(args) : new Uint8Array(args.buffer, args.byteOffset, args.byteLength);
      return { bytes: bytes };
    }
    var json;
    var hasChannel = false;
    if (needsReplacer(args, 0)) {
      json = JSON.stringify(args, function (_key, value) {
        if (value !== null && typeof value === "object" && typeof value[TO_IPC] === "function") value = value[TO_IPC]();
        if (typeof value === "string" && value.indexOf(CHANNEL_PREFIX) === 0) hasChannel = true;
        return value;
      });
    } else {
      // Plain data: V8 serializes it twice as fast without a replacer. A string that merely holds
      // the channel prefix only makes the call wait for the socket, which a channel needs.
      json = JSON.stringify(args);
      hasChannel = json !== undefined && json.indexOf('"' + CHANNEL_PREFIX) !== -1;
    }
    return { json: json === undefined ? "null" : json, hasChannel: hasChannel };
  }

  /**
   * Does serializing this value need the replacer: an object with the IPC serialization hook (a
   * Channel, a class of the app's), or a toJSON whose result could hold one? Deeply nested values
   * take the replacer's path too, which is how a cycle ends the walk (the first way down reaches
   * the depth) and reaches JSON.stringify's own refusal.
   */
  function needsReplacer(value, depth) {
    if (value === null || typeof value !== "object") return false;
    if (depth > 32 || typeof value[TO_IPC] === "function" || typeof value.toJSON === "function") return true;
    if (Array.isArray(value)) {
      for (var i = 0; i < value.length; i++) if (needsReplacer(value[i], depth + 1)) return true;
      return false;
    }
    for (var key in value) if (needsReplacer(value[key], depth + 1)) return true;
    return false;
  }

  /** Headers in any of their three forms (object, Headers, pairs) as an object with lower-case names. */
  function headerObject(init) {
    if (!init) return undefined;
    var out = {};
    var any = false;
    new Headers(init).forEach(function (value, name) {
      out[name] = value;
      any = true;
    });
    return any ? out : undefined;
  }

  function invokeOverHttp(cmd, encoded, options) {
    var headers = new Headers(options && options.headers);
    headers.set("Content-Type", encoded.json !== undefined ? "application/json" : "application/octet-stream");
    headers.set("Gateway-Window", label);
    if (token) headers.set("Authorization", "Bearer " + token);
    // A channel streams over this page's WebSocket: the gateway must know the page first.
    var before = encoded.hasChannel ? ready() : Promise.resolve();
    return before
      .then(function () {
        if (pageId !== null) headers.set("Gateway-Page", pageId);
        return fetch(base + "/ipc/" + encodeURIComponent(cmd), { method: "POST", body: encoded.json !== undefined ? encoded.json : encoded.bytes, headers: headers }).catch(function (error) {
          // fetch's TypeError says nothing of which call; the caller gets the documented shape.
          throw unreachable(cmd, "could not be reached (" + (error && error.message ? error.message : String(error)) + "): it is not running there, or it refused this page's origin (its log says which)");
        });
      })
      .then(function (response) {
        var isJson = (response.headers.get("Content-Type") || "").indexOf("application/json") === 0;
        var outcome = response.headers.get("Tauri-Response");
        // The gateway's answers to an invocation say Tauri-Response (all but its refusals of a
        // request it could not read as HTTP, which are still its { kind, message }); a failure
        // without either is from something in between (a proxy's 502, a server that is not the gateway).
        if (!outcome && !response.ok) {
          if (!isJson) return response.arrayBuffer().then(notTheGateway, notTheGateway);
          return response.json().then(function (value) {
            if (value !== null && typeof value === "object" && typeof value.kind === "string" && typeof value.message === "string") throw value;
            notTheGateway();
          }, notTheGateway);
        }
        var ok = outcome ? outcome === "ok" : response.ok;
        return (isJson ? response.json() : response.arrayBuffer()).then(
          function (value) {
            if (ok) return value;
            throw value;
          },
          function (error) {
            throw unreachable(cmd, "broke off its answer (" + (error && error.message ? error.message : String(error)) + ")", response.status);
          }
        );
        function notTheGateway() {
          throw unreachable(cmd, "did not answer: " + response.status + (response.statusText ? " " + response.statusText : "") + " came from something in between (a proxy?), not from the gateway", response.status);
        }
      });
  }

  /** `{ kind: "unreachable" }`: the call got no answer from the gateway (it may or may not have run). */
  function unreachable(cmd, what, status) {
    var error = { kind: "unreachable", message: "the gateway at " + base + " " + what + '; "' + cmd + '" may or may not have run' };
    if (status !== undefined) error.status = status;
    return error;
  }

  function convertFileSrc(filePath, protocol) {
    return (protocol || "asset") + "://localhost/" + encodeURIComponent(filePath);
  }

  window.__TAURI_INTERNALS__ = Object.assign(window.__TAURI_INTERNALS__ || {}, {
    invoke: invoke,
    transformCallback: transformCallback,
    unregisterCallback: unregisterCallback,
    runCallback: runCallback,
    callbacks: callbacks,
    convertFileSrc: convertFileSrc,
    metadata: {
      currentWindow: { label: label },
      currentWebview: { label: label, windowLabel: label },
    },
    plugins: { path: { sep: "/", delimiter: ":" } },
    gateway: {
      url: base,
      /** Resolves once the page's WebSocket is connected. */
      ready: ready,
      /** How invocations travel: "ws" (over the page's socket once open) or "http" (`?transport=http`). */
      transport: overSocket ? "ws" : "http",
      get page() {
        return pageId;
      },
    },
  });
  window.__TAURI_EVENT_PLUGIN_INTERNALS__ = Object.assign(window.__TAURI_EVENT_PLUGIN_INTERNALS__ || {}, {
    unregisterListener: unregisterListener,
  });
  window.isTauri = true;
  connect();
})();
