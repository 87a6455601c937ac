/**
 * The demo page's script: a small chat UI on top of the typed client. Bundled for the browser by
 * `scripts/build-demo.ts`; it is the only code here that touches the DOM. All user data is written
 * with `textContent`, never as HTML.
 */
import { ParleyClient, type ClientState } from '@parley/client';
import type { Member, Message } from '@parley/client/wire';

type RoomView = { messages: Message[]; unread: number };

/** How many messages a room keeps in the page; older ones are dropped from view. */
const KEEP = 500;
const TYPING_SHOW_MS = 3000;
const TYPING_SEND_MS = 2000;
/** How often to look for direct rooms opened by others (the server does not push invitations). */
const CONVERSATIONS_MS = 5000;

const $ = <T extends HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} is missing from the page`);
  return el as T;
};
const el = <K extends keyof HTMLElementTagNameMap>(tag: K, cls?: string, text?: string): HTMLElementTagNameMap[K] => {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
};

const ui = {
  login: $<HTMLFormElement>('login'),
  name: $<HTMLInputElement>('name'),
  chat: $<HTMLElement>('chat'),
  me: $<HTMLElement>('me'),
  state: $<HTMLElement>('state'),
  rooms: $<HTMLUListElement>('rooms'),
  joinForm: $<HTMLFormElement>('join-form'),
  roomInput: $<HTMLInputElement>('room-input'),
  dmForm: $<HTMLFormElement>('dm-form'),
  dmInput: $<HTMLInputElement>('dm-input'),
  title: $<HTMLElement>('room-title'),
  leave: $<HTMLButtonElement>('leave'),
  messages: $<HTMLOListElement>('messages'),
  typing: $<HTMLElement>('typing'),
  composer: $<HTMLFormElement>('composer'),
  text: $<HTMLInputElement>('text'),
  send: $<HTMLButtonElement>('send'),
  members: $<HTMLUListElement>('members'),
  notice: $<HTMLElement>('notice'),
};

const views = new Map<string, RoomView>();
let client: ParleyClient | null = null;
let me = '';
let active: string | null = null;
// A room the user asked for (join or direct message): show it as soon as it is joined.
let selectOnJoin: string | null = null;
let typingTimer: ReturnType<typeof setTimeout> | undefined;
let lastTypingSent = 0;

const roomLabel = (room: string): string => {
  if (!room.startsWith('dm:')) return `#${room}`;
  const other = room.split(':').slice(1).find((u) => u !== me);
  return `@${other ?? me}`;
};

function notice(text: string): void {
  ui.notice.textContent = text;
  setTimeout(() => {
    if (ui.notice.textContent === text) ui.notice.textContent = '';
  }, 4000);
}

function renderState(state: ClientState): void {
  ui.state.dataset['state'] = state;
  ui.state.textContent = state;
}

function renderRooms(): void {
  ui.rooms.replaceChildren(
    ...[...views].map(([room, view]) => {
      const li = el('li');
      li.dataset['room'] = room;
      li.setAttribute('aria-current', String(room === active));
      li.append(el('span', 'label', roomLabel(room)));
      if (view.unread > 0) li.append(el('span', 'unread', String(view.unread)));
      li.addEventListener('click', () => select(room));
      return li;
    }),
  );
}

function messageItem(m: Message): HTMLLIElement {
  const li = el('li', m.from === me ? 'msg mine' : 'msg');
  li.dataset['seq'] = String(m.seq);
  li.dataset['from'] = m.from;
  const time = el('time', '', new Date(m.ts).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }));
  time.dateTime = new Date(m.ts).toISOString();
  li.append(el('span', 'from', m.from), el('span', 'text', m.text), time);
  return li;
}

function renderMessages(): void {
  const view = active ? views.get(active) : undefined;
  ui.messages.replaceChildren(...(view?.messages ?? []).map(messageItem));
  ui.messages.scrollTop = ui.messages.scrollHeight;
}

function renderMembers(): void {
  const list: Member[] = active && client ? client.members(active) : [];
  list.sort((a, b) => (a.status === b.status ? a.user.localeCompare(b.user) : a.status === 'online' ? -1 : 1));
  ui.members.replaceChildren(
    ...list.map((m) => {
      const li = el('li', '', m.user === me ? `${m.user} (you)` : m.user);
      li.dataset['user'] = m.user;
      li.dataset['status'] = m.status;
      li.title = m.status === 'online' ? 'online' : `offline${m.lastSeen ? `, last seen ${new Date(m.lastSeen).toLocaleString()}` : ''}`;
      return li;
    }),
  );
}

function select(room: string): void {
  active = room;
  const view = views.get(room);
  if (view) view.unread = 0;
  ui.title.textContent = roomLabel(room);
  ui.typing.textContent = '';
  ui.text.disabled = ui.send.disabled = ui.leave.disabled = false;
  renderRooms();
  renderMessages();
  renderMembers();
  ui.text.focus();
}

function onMessage(m: Message): void {
  const view = views.get(m.room);
  if (!view) return;
  view.messages.push(m);
  if (view.messages.length > KEEP) view.messages.splice(0, view.messages.length - KEEP);
  if (m.room !== active) {
    view.unread++;
    renderRooms();
    return;
  }
  ui.messages.append(messageItem(m));
  while (ui.messages.childElementCount > KEEP) ui.messages.firstElementChild?.remove();
  ui.messages.scrollTop = ui.messages.scrollHeight;
}

function start(name: string): void {
  me = name;
  const c = new ParleyClient({ url: location.origin, user: name, WebSocket });
  client = c;
  c.on('state', renderState);
  c.on('open', (hello) => {
    ui.me.textContent = `signed in as ${hello.user}`;
    void joinDirectRooms(c);
  });
  c.on('joined', (j) => {
    // A resumed room keeps what it shows; missed messages arrive as `message` events.
    if (!j.resumed || !views.has(j.room)) {
      const unread = j.messages.filter((m) => m.from !== me).length;
      views.set(j.room, { messages: j.messages.slice(-KEEP), unread });
    }
    if (active === null || selectOnJoin === j.room) {
      selectOnJoin = null;
      select(j.room);
    } else {
      renderRooms();
      if (j.room === active) renderMembers();
    }
  });
  c.on('reset', (r) => {
    views.set(r.room, { messages: r.messages.slice(-KEEP), unread: 0 });
    if (r.room === active) renderMessages();
    notice(`${roomLabel(r.room)} was reset; showing the latest messages`);
  });
  c.on('message', onMessage);
  c.on('presence', (p) => {
    if (p.room === active) renderMembers();
  });
  c.on('typing', (t) => {
    if (t.room !== active || t.user === me) return;
    ui.typing.textContent = `${t.user} is typing…`;
    clearTimeout(typingTimer);
    typingTimer = setTimeout(() => (ui.typing.textContent = ''), TYPING_SHOW_MS);
  });
  c.on('error', (e) => notice(`${e.code}: ${e.message}`));
  c.on('close', (e) => {
    if (e.reconnectInMs === undefined && e.code !== 1000) notice(`disconnected (${e.code} ${e.reason})`);
  });
  c.connect();
  c.join(new URLSearchParams(location.search).get('room') ?? 'lobby');
  setInterval(() => void joinDirectRooms(c), CONVERSATIONS_MS);
  ui.login.hidden = true;
  ui.chat.hidden = false;
}

/** Joins the direct rooms someone else opened with this user (they show up in conversations). */
async function joinDirectRooms(c: ParleyClient): Promise<void> {
  if (c.state !== 'open') return;
  const items = await c.conversations().catch(() => []);
  for (const { room } of items) {
    const other = room.startsWith('dm:') ? room.split(':').slice(1).find((u) => u !== me) : undefined;
    if (other !== undefined && !views.has(room)) c.joinDirect(other);
  }
}

ui.name.value = localStorage.getItem('parley.name') ?? '';
ui.login.addEventListener('submit', (ev) => {
  ev.preventDefault();
  const name = ui.name.value.trim();
  if (!name) return;
  localStorage.setItem('parley.name', name);
  start(name);
});

ui.joinForm.addEventListener('submit', (ev) => {
  ev.preventDefault();
  const room = ui.roomInput.value.trim();
  if (!client || !room) return;
  ui.roomInput.value = '';
  if (views.has(room)) return select(room);
  selectOnJoin = room;
  client.join(room);
});

ui.dmForm.addEventListener('submit', (ev) => {
  ev.preventDefault();
  const user = ui.dmInput.value.trim();
  if (!client || !user || user === me) return;
  ui.dmInput.value = '';
  const room = client.joinDirect(user);
  if (room && views.has(room)) return select(room);
  selectOnJoin = room;
});

ui.leave.addEventListener('click', () => {
  if (!client || !active) return;
  client.leave(active);
  views.delete(active);
  active = null;
  const next = views.keys().next();
  if (!next.done) return select(next.value);
  ui.title.textContent = 'Join a room';
  ui.text.disabled = ui.send.disabled = ui.leave.disabled = true;
  renderRooms();
  renderMessages();
  renderMembers();
});

ui.composer.addEventListener('submit', (ev) => {
  ev.preventDefault();
  const text = ui.text.value.trim();
  if (!client || !active || !text) return;
  ui.text.value = '';
  const pending = messageItem({ room: active, epoch: '', seq: 0, from: me, text, ts: Date.now() });
  pending.classList.add('pending');
  ui.messages.append(pending);
  ui.messages.scrollTop = ui.messages.scrollHeight;
  // The message itself comes back as a `message` event; the placeholder only bridges the wait.
  client.send(active, text).then(
    () => pending.remove(),
    (err: unknown) => {
      pending.classList.add('failed');
      notice(`not sent: ${err instanceof Error ? err.message : String(err)}`);
    },
  );
});

ui.text.addEventListener('input', () => {
  const now = Date.now();
  if (!client || !active || now - lastTypingSent < TYPING_SEND_MS) return;
  lastTypingSent = now;
  client.typing(active);
});
