// Live chat beside a channel or stage: history, sending, moderation tools for the
// streamer and their moderators, viewer count. Reconnects with back-off (socket.js)
// and asks for what it missed (after=<last id>), so nothing shows twice or goes missing.
// Every event also goes to options.onEvent (stage pages handle guest spots there).

import { keepOpen } from "./socket.js";

const URL_PATTERN = /\bhttps?:\/\/[^\s<>"']+/g;

// Text nodes plus safe links; never innerHTML, so a message cannot inject markup.
function renderText(container, text) {
  let last = 0;
  for (const match of text.matchAll(URL_PATTERN)) {
    container.append(text.slice(last, match.index));
    const link = document.createElement("a");
    link.href = match[0];
    link.textContent = match[0];
    link.rel = "nofollow ugc noopener noreferrer";
    link.target = "_blank";
    container.append(link);
    last = match.index + match[0].length;
  }
  container.append(text.slice(last));
}

// One chat line: author (coloured by role) and text. Also used by the replay page.
export function messageLine(message) {
  const item = document.createElement("li");
  item.className = "chat-line";
  item.dataset.id = message.id;
  const author = document.createElement("span");
  author.className = `chat-author role-${message.role}`;
  author.textContent = message.user;
  const text = document.createElement("span");
  text.className = "chat-text";
  renderText(text, message.text);
  item.append(author, " ", text);
  return item;
}

export function createChat(root, { onEvent = () => {} } = {}) {
  const list = root.querySelector(".chat-messages");
  const form = root.querySelector(".chat-form");
  const input = root.querySelector(".chat-input");
  const notice = root.querySelector(".chat-notice");
  const viewers = document.querySelectorAll("[data-viewer-count]");
  const modTools = root.querySelector(".chat-mod-tools");
  const slowSelect = root.querySelector(".chat-slow-mode");
  const status = root.querySelector(".chat-status");
  let socket = null;
  let lastId = null;
  let me = null;
  let heartbeat = null;
  let kicked = false;
  let nonce = 0;
  const shown = new Map(); // message id -> <li>

  function showNotice(text, kind = "info") {
    notice.textContent = text;
    notice.dataset.kind = kind;
    notice.hidden = !text;
  }

  function isModerator() {
    return me && me.role !== "viewer";
  }

  function addMessage(message) {
    if (shown.has(message.id)) return;
    const item = messageLine(message);
    if (isModerator() && message.userId !== me.userId) item.append(moderationButtons(message));
    const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    list.append(item);
    shown.set(message.id, item);
    lastId = Math.max(lastId ?? 0, message.id);
    while (shown.size > 300) {
      const [oldest, node] = shown.entries().next().value;
      node.remove();
      shown.delete(oldest);
    }
    if (atBottom) list.scrollTop = list.scrollHeight;
  }

  function moderationButtons(message) {
    const tools = document.createElement("span");
    tools.className = "chat-line-tools";
    const actions = [
      ["Delete", { type: "delete", messageId: message.id }],
      ["10 min", { type: "timeout", userId: message.userId, minutes: 10 }],
      ["Ban", { type: "ban", userId: message.userId }],
      ["Kick", { type: "disconnect", userId: message.userId }],
    ];
    for (const [label, action] of actions) {
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = label;
      button.title = label === "10 min" ? `Time out ${message.user} for 10 minutes` : `${label} ${message.user}`;
      button.addEventListener("click", () => send(action));
      tools.append(button);
    }
    return tools;
  }

  function removeMessages(ids) {
    for (const id of ids) {
      shown.get(id)?.remove();
      shown.delete(id);
    }
  }

  function setViewers(count) {
    for (const node of viewers) {
      node.textContent = `${count} watching`;
      node.hidden = false;
    }
  }

  function setSendable(reason) {
    if (!input) return;
    input.disabled = Boolean(reason);
    input.placeholder = reason || "Send a message";
  }

  const handlers = {
    "chat.hello": (event) => {
      me = event.me;
      input?.setAttribute("maxlength", event.maxLength);
      modTools.hidden = !isModerator();
      if (slowSelect) slowSelect.value = String(event.slowMode);
      setViewers(event.viewers);
      clearInterval(heartbeat);
      heartbeat = setInterval(() => send({ type: "ping" }), event.heartbeat * 1000);
    },
    "chat.history": (event) => {
      if (event.reset) {
        list.replaceChildren();
        shown.clear();
      }
      removeMessages(event.deleted);
      event.messages.forEach(addMessage);
      list.scrollTop = list.scrollHeight;
    },
    "chat.message": (event) => addMessage(event.message),
    "chat.delete": (event) => removeMessages(event.ids),
    "chat.clear": () => {
      list.replaceChildren();
      shown.clear();
      showNotice("A moderator cleared the chat.");
    },
    "chat.settings": (event) => {
      if (slowSelect) slowSelect.value = String(event.slowMode);
      showNotice(event.slowMode ? `Slow mode: one message every ${event.slowMode} s.` : "Slow mode is off.");
    },
    "chat.sanction": (event) => setSendable(event.message),
    "chat.sent": () => {
      input.value = "";
      showNotice("");
    },
    "chat.kicked": (event) => {
      kicked = true;
      showNotice(event.message, "error");
    },
    presence: (event) => setViewers(event.viewers),
    pong: () => {},
    error: (event) => showNotice(event.message, "error"),
  };

  function send(action) {
    if (socket?.readyState !== WebSocket.OPEN) {
      showNotice("Not connected; reconnecting…", "error");
      return false;
    }
    socket.send(JSON.stringify({ ...action, nonce: ++nonce }));
    return true;
  }

  function connect() {
    keepOpen(() => root.dataset.socketUrl + (lastId === null ? "" : `?after=${lastId}`), {
      onOpen: (opened) => {
        socket = opened;
        status.hidden = true;
        root.dataset.connected = "true"; // for styles and tests: messages can be sent
      },
      onEvent: (event) => {
        // A busy room sends what queued up meanwhile as one batch.
        for (const each of event.type === "batch" ? event.events : [event]) {
          handlers[each.type]?.(each);
          onEvent(each);
        }
      },
      onClose: (event) => {
        clearInterval(heartbeat);
        delete root.dataset.connected;
        status.hidden = kicked;
        // 4403: this viewer may no longer read this chat (unfollowed, made private).
        if (event.code === 4403) {
          status.textContent = "You can no longer read this chat. Reload the page to see why.";
          status.hidden = false;
        }
      },
      finalCodes: [4403, 4404],
      shouldStop: () => kicked,
    });
  }

  form?.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (text) send({ type: "send", text });
  });
  slowSelect?.addEventListener("change", () => send({ type: "slow_mode", seconds: Number(slowSelect.value) }));
  root.querySelector(".chat-clear")?.addEventListener("click", () => {
    if (confirm("Clear the chat for everyone?")) send({ type: "clear" });
  });
  connect();
  return { send, me: () => me };
}
