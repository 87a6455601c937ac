/**
 * The demo page's script: a small chat UI on top of the typed client. Bundled for the browser by
 * `scripts/build-demo.ts`; it is the only code here that touches the DOM. All user data is written
 * with `textContent`, never as HTML.
 */
import { ParleyClient, type ClientState, type Group, type MemberEvent } from '@parley/client';
import { parseRoom, type Member, type Message } from '@parley/client/wire';
import { el, messageItem as item, reacted } from './message-item.ts';

/** How many messages a room keeps in the page; older ones are dropped from view. */
const KEEP = 500;
const TYPING_SHOW_MS = 3000;
const TYPING_SEND_MS = 2000;
/** How often to look for direct rooms and groups opened by others (the server does not push invitations). */
const CONVERSATIONS_MS = 5000;

const $ = <T extends HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} is missing from the page`);
  return el as T;
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
  groupForm: $<HTMLFormElement>('group-form'),
  groupName: $<HTMLInputElement>('group-name'),
  groupMembers: $<HTMLInputElement>('group-members'),
  memberForm: $<HTMLFormElement>('member-form'),
  memberInput: $<HTMLInputElement>('member-input'),
  notice: $<HTMLElement>('notice'),
};

/** "Seen by …": the last item of the message list, right under the last message. */
const seen = Object.assign(el('li', 'seen'), { id: 'seen' });

/** The rooms on the page; their messages, in their current state, are the client's (`client.messages`). */
const views = new Set<string>();
/** Groups the page knows (title, owner, roles), by room `grp:<id>`; kept in step by `member` events. */
const groups = new Map<string, Group>();
/** When the user was removed from a group: a conversations answer asked for before then is stale. */
const removedAt = new Map<string, number>();
/** Groups the user is leaving by the Leave button: their `left` is no news. */
const leaving = new Set<string>();
let client: ParleyClient | null = null;
let me = '';
let active: string | null = null;
// A room the user asked for (join or direct message): show it as soon as it is joined.
let selectOnJoin: string | null = null;
let typingTimer: ReturnType<typeof setTimeout> | undefined;
// The message of the active room being edited, and the one whose reaction picker is open.
let editing: number | null = null;
let picking: number | null = null;
let lastTypingSent = 0;

const groupId = (room: string): string | undefined => {
  const kind = parseRoom(room);
  return kind?.kind === 'group' ? kind.id : undefined;
};

const roomLabel = (room: string): string => {
  const id = groupId(room);
  if (id !== undefined) return `★ ${groups.get(room)?.title || id}`;
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
    ...[...views.keys()].map((room) => {
      const li = el('li');
      li.dataset['room'] = room;
      if (groupId(room) !== undefined) li.dataset['kind'] = 'group';
      li.setAttribute('aria-current', String(room === active));
      li.append(el('span', 'label', roomLabel(room)));
      // The server's count (v1.1 read state): it follows reads made on the user's other devices too.
      const unread = client?.unread(room) ?? 0;
      if (unread > 0 && room !== active) li.append(el('span', 'unread', unread >= 1000 ? '999+' : String(unread)));
      li.addEventListener('click', () => select(room));
      return li;
    }),
  );
}

/** The latest messages of `room` the page shows, each in its current state. */
const shown = (room: string | null): Message[] => (client && room ? client.messages(room).slice(-KEEP) : []);

const messageItem = (m: Message): HTMLLIElement => {
  const role = myRole();
  return item(m, { me, moderates: role === 'owner' || role === 'admin', editing: editing === m.seq, picking: picking === m.seq });
};

/** Redraws one message of the active room from its current state (edited, deleted, reacted to). */
function redraw(seq: number): void {
  const m = active && client ? client.messageState(active, seq) : undefined;
  const li = ui.messages.querySelector(`li.msg[data-seq="${seq}"]`);
  if (m && li) li.replaceWith(messageItem(m));
}

function renderMessages(): void {
  ui.messages.replaceChildren(...shown(active).map(messageItem));
  ui.messages.scrollTop = ui.messages.scrollHeight;
  renderSeen();
}

/** "Seen by …" under the last message of a direct room or group: the others who read up to it. */
function renderSeen(): void {
  const last = shown(active).at(-1);
  ui.messages.append(seen);
  if (!client || !active || !last || parseRoom(active)?.kind === 'public') {
    seen.textContent = '';
    return;
  }
  const who = client.readers(active).filter((r) => r.seq >= last.seq && r.user !== last.from && r.user !== me);
  seen.textContent = who.length > 0 ? `Seen by ${who.map((r) => r.user).join(', ')}` : '';
}

/** The user is looking at the active room: it is read up to its latest message. */
function markActiveRead(): void {
  if (client && active && document.visibilityState === 'visible') client.markRead(active);
}

/** The own role in the active room's group; undefined outside groups (or before the group is read). */
const myRole = (): string | undefined => (active ? groups.get(active)?.members.find((m) => m.user === me)?.role : undefined);

function renderMembers(): void {
  const list: Member[] = active && client ? client.members(active) : [];
  list.sort((a, b) => (a.status === b.status ? a.user.localeCompare(b.user) : a.status === 'online' ? -1 : 1));
  const group = active ? groups.get(active) : undefined;
  const mine = myRole();
  ui.members.replaceChildren(
    ...list.map((m) => {
      const li = el('li');
      li.append(el('span', 'name', m.user === me ? `${m.user} (you)` : m.user));
      li.dataset['user'] = m.user;
      li.dataset['status'] = m.status;
      li.title = m.status === 'online' ? 'online' : `offline${m.lastSeen ? `, last seen ${new Date(m.lastSeen).toLocaleString()}` : ''}`;
      const role = group?.members.find((g) => g.user === m.user)?.role;
      if (role === 'owner' || role === 'admin') li.append(el('span', 'role', role));
      // The owner removes anyone but itself; an admin removes plain members (the server decides anyway).
      if (group && m.user !== me && role !== 'owner' && (mine === 'owner' || (mine === 'admin' && role === 'member'))) {
        const remove = el('button', 'quiet remove', '×');
        remove.type = 'button';
        remove.title = `remove ${m.user} from the group`;
        remove.setAttribute('aria-label', remove.title);
        remove.addEventListener('click', () => removeMember(group.room, m.user));
        li.append(remove);
      }
      return li;
    }),
  );
  ui.memberForm.hidden = !(group && (mine === 'owner' || mine === 'admin'));
}

/** Reads a group's title and roles (members only), then redraws what shows them. */
function loadGroup(c: ParleyClient, room: string): void {
  const id = groupId(room);
  if (id === undefined) return;
  c.group(id).then(
    (g) => {
      if (!views.has(room)) return;
      groups.set(room, g);
      renderRooms();
      if (room === active) {
        ui.title.textContent = roomLabel(room);
        renderMembers();
      }
    },
    (err: unknown) => notice(`${roomLabel(room)}: ${err instanceof Error ? err.message : String(err)}`),
  );
}

/** Keeps the cached group in step with a `member` event, and tells the user. */
function onMember(e: MemberEvent): void {
  const g = groups.get(e.room);
  const was = g?.members.find((m) => m.user === e.user)?.role;
  if (g) {
    const others = g.members.filter((m) => m.user !== e.user);
    g.members = e.role === null ? others : [...others, { user: e.user, role: e.role }].sort((a, b) => (a.user < b.user ? -1 : 1));
  }
  if (e.room !== active) return;
  renderMembers();
  const who = e.by === me ? 'you' : e.by;
  if (e.role === null) notice(e.by === e.user ? `${e.user} left the group` : `${who} removed ${e.user}`);
  else if (was === undefined && e.role === 'member') notice(`${who} added ${e.user}`);
  else notice(`${who} made ${e.user === me ? 'you' : e.user} ${e.role}`);
}

function removeMember(room: string, user: string): void {
  const id = groupId(room);
  if (!client || id === undefined) return;
  client.removeMember(id, user).catch((err: unknown) => notice(`not removed: ${err instanceof Error ? err.message : String(err)}`));
}

/** Takes a room off the page (left, or removed from the group) and shows another one. */
function dropRoom(room: string): void {
  views.delete(room);
  groups.delete(room);
  if (room !== active) return renderRooms();
  active = null;
  const next = views.keys().next();
  if (!next.done) return select(next.value);
  ui.title.textContent = 'Join a room';
  ui.text.disabled = ui.send.disabled = ui.leave.disabled = true;
  renderRooms();
  renderMessages();
  renderMembers();
}

function select(room: string): void {
  active = room;
  editing = picking = null;
  ui.title.textContent = roomLabel(room);
  ui.typing.textContent = '';
  ui.text.disabled = ui.send.disabled = ui.leave.disabled = false;
  renderRooms();
  renderMessages();
  renderMembers();
  markActiveRead();
  ui.text.focus();
}

function onMessage(m: Message): void {
  // Edits, deletes and reactions redraw the message they change (the `change` event).
  if (!views.has(m.room) || m.kind !== undefined) return;
  if (m.room !== active) return; // its badge follows the `unread` event
  ui.messages.append(messageItem(client?.messageState(m.room, m.seq) ?? m));
  while (ui.messages.childElementCount > KEEP + 1) ui.messages.firstElementChild?.remove();
  renderSeen();
  ui.messages.scrollTop = ui.messages.scrollHeight;
  markActiveRead();
}

function start(name: string): void {
  me = name;
  const c = new ParleyClient({ url: location.origin, user: name, WebSocket });
  client = c;
  c.on('state', renderState);
  c.on('open', (hello) => {
    ui.me.textContent = `signed in as ${hello.user}`;
    void joinConversations(c);
  });
  c.on('joined', (j) => {
    // A resumed room keeps what it shows; missed messages arrive as `message` events.
    if (!j.resumed || !views.has(j.room)) {
      views.add(j.room);
      if (!groups.has(j.room)) loadGroup(c, j.room);
      // Who has read how far, for "Seen by" (receipts keep it current from now on).
      if (parseRoom(j.room)?.kind !== 'public') c.fetchReaders(j.room).then(() => j.room === active && renderSeen(), () => undefined);
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
    views.add(r.room);
    if (r.room === active) renderMessages();
    notice(`${roomLabel(r.room)} was reset; showing the latest messages`);
  });
  c.on('message', onMessage);
  c.on('change', ({ room, message }) => room === active && redraw(message.seq));
  c.on('unread', () => renderRooms());
  c.on('read', (r) => {
    if (r.room === active && r.user !== me) renderSeen();
  });
  c.on('member', onMember);
  c.on('left', (l) => {
    if (l.reason !== 'removed') return;
    // Removed from a group: the client forgot the room; the page forgets it too.
    removedAt.set(l.room, Date.now());
    notice(leaving.delete(l.room) ? `you left ${roomLabel(l.room)}` : `you were removed from ${roomLabel(l.room)}`);
    dropRoom(l.room);
  });
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
  setInterval(() => void joinConversations(c), CONVERSATIONS_MS);
  ui.login.hidden = true;
  ui.chat.hidden = false;
}

/**
 * Joins the direct rooms someone else opened with this user and the groups someone added the user
 * to (both show up in conversations).
 */
async function joinConversations(c: ParleyClient): Promise<void> {
  if (c.state !== 'open') return;
  const asked = Date.now();
  const items = await c.conversations().catch(() => []);
  for (const { room } of items) {
    if (views.has(room)) continue;
    if (groupId(room) !== undefined) {
      // An answer older than a removal may still list the group.
      if ((removedAt.get(room) ?? 0) < asked) c.join(room);
      continue;
    }
    const other = room.startsWith('dm:') ? room.split(':').slice(1).find((u) => u !== me) : undefined;
    if (other !== undefined) c.joinDirect(other);
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
  const room = active;
  const id = groupId(room);
  if (id === undefined) {
    client.leave(room);
    return dropRoom(room);
  }
  // Leaving a group is leaving its membership (else the conversations poll would bring it back).
  const c = client;
  leaving.add(room);
  c.removeMember(id, me).then(
    () => {
      leaving.delete(room);
      removedAt.set(room, Date.now());
      c.leave(room);
      if (views.has(room)) notice(`you left ${roomLabel(room)}`);
      dropRoom(room);
    },
    (err: unknown) => {
      leaving.delete(room);
      notice(`not left: ${err instanceof Error ? err.message : String(err)}`);
    },
  );
});

ui.groupForm.addEventListener('submit', (ev) => {
  ev.preventDefault();
  const title = ui.groupName.value.trim();
  if (!client || !title) return;
  const members = ui.groupMembers.value.split(/[\s,]+/).filter((u) => u !== '' && u !== me);
  const c = client;
  c.createGroup({ title, members }).then(
    (g) => {
      ui.groupName.value = ui.groupMembers.value = '';
      groups.set(g.room, g);
      selectOnJoin = g.room;
      c.join(g.room);
    },
    (err: unknown) => notice(`no group: ${err instanceof Error ? err.message : String(err)}`),
  );
});

ui.memberForm.addEventListener('submit', (ev) => {
  ev.preventDefault();
  const user = ui.memberInput.value.trim();
  const id = active ? groupId(active) : undefined;
  if (!client || id === undefined || !user) return;
  client.setMember(id, user, 'member').then(
    () => (ui.memberInput.value = ''),
    (err: unknown) => notice(`not added: ${err instanceof Error ? err.message : String(err)}`),
  );
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

/** Reports a refused edit, delete or reaction (the server's code and message). */
const refused = (what: string) => (err: unknown) => notice(`${what}: ${err instanceof Error ? err.message : String(err)}`);

/** Opens or closes the inline edit or the reaction picker of one message (one at a time). */
function open(what: 'editing' | 'picking', seq: number | null): void {
  const before = [editing, picking];
  if (what === 'editing') [editing, picking] = [seq, null];
  else [editing, picking] = [null, seq];
  for (const s of new Set([...before, seq])) if (s !== null) redraw(s);
  if (what === 'editing' && seq !== null) ui.messages.querySelector<HTMLInputElement>(`li.msg[data-seq="${seq}"] form.edit input`)?.focus();
}

// The buttons of every message: react, edit, delete (see message-item.ts).
ui.messages.addEventListener('click', (ev) => {
  const button = (ev.target as HTMLElement).closest<HTMLButtonElement>('button[data-action]');
  const seq = Number(button?.closest<HTMLElement>('li.msg')?.dataset['seq']);
  const m = client && active && seq > 0 ? client.messageState(active, seq) : undefined;
  if (!button || !client || !active || !m) return;
  const [c, room] = [client, active];
  switch (button.dataset['action']) {
    case 'pick':
      return open('picking', picking === seq ? null : seq);
    case 'react': {
      const emoji = button.dataset['emoji'] ?? '';
      if (picking === seq) open('picking', null);
      c.react(room, seq, emoji, !reacted(m.reactions?.find((r) => r.emoji === emoji), me)).catch(refused('no reaction'));
      return;
    }
    case 'edit':
      return open('editing', seq);
    case 'cancel':
      return open('editing', null);
    case 'delete':
      c.deleteMessage(room, seq).catch(refused('not deleted'));
      return;
  }
});

ui.messages.addEventListener('submit', (ev) => {
  const form = ev.target as HTMLFormElement;
  if (!form.matches('form.edit')) return;
  ev.preventDefault();
  const seq = editing;
  const text = form.querySelector('input')?.value.trim() ?? '';
  if (!client || !active || seq === null) return;
  const before = client.messageState(active, seq)?.text;
  open('editing', null);
  // The new text shows when the edit comes back as an entry of the log (the `change` event).
  if (text !== '' && text !== before) client.edit(active, seq, text).catch(refused('not edited'));
});

ui.messages.addEventListener('keydown', (ev) => {
  if (ev.key === 'Escape' && editing !== null) open('editing', null);
});

document.addEventListener('visibilitychange', markActiveRead);

ui.text.addEventListener('input', () => {
  const now = Date.now();
  if (!client || !active || now - lastTypingSent < TYPING_SEND_MS) return;
  lastTypingSent = now;
  client.typing(active);
});
