/**
 * How the demo page shows one message: its text (or "message deleted"), "(edited)", its reaction
 * chips, and the buttons and inline forms that edit, delete and react. Buttons only carry a
 * `data-action` (and `data-emoji`); the page handles their clicks for the whole list at once.
 * All user data is written with `textContent`, never as HTML.
 */
import type { Message, Reaction } from '@parley/client/wire';

/** The emoji the reaction picker offers. */
export const PICKER = ['👍', '❤️', '😂', '🎉', '😮'] as const;

/** What the page knows beyond the message: who the user is, and what is open on this message. */
export type ItemContext = {
  me: string;
  /** The user may delete anyone's message here (a group's owner or admin). */
  moderates: boolean;
  editing: boolean;
  picking: boolean;
};

export const el = <K extends keyof HTMLElementTagNameMap>(tag: K, cls?: string, text?: string): HTMLElementTagNameMap[K] => {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
};

function button(action: string, text: string, title: string): HTMLButtonElement {
  const b = el('button', `quiet ${action}`, text);
  b.type = 'button';
  b.dataset['action'] = action;
  b.title = title;
  b.setAttribute('aria-label', title);
  return b;
}

/** Whether the user is among those who reacted with `r` (as far as the first 20 listed tell). */
export const reacted = (r: Reaction | undefined, me: string): boolean => r?.users.includes(me) ?? false;

/** One message of the list. A message with seq 0 is a placeholder for a send not acked yet. */
export function messageItem(m: Message, ctx: ItemContext): HTMLLIElement {
  const mine = m.from === ctx.me;
  const li = el('li', mine ? 'msg mine' : 'msg');
  li.dataset['seq'] = String(m.seq);
  li.dataset['from'] = m.from;
  if (m.deleted) li.classList.add('deleted');
  const time = el('time', '', new Date(m.ts).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }));
  time.dateTime = new Date(m.ts).toISOString();
  li.append(el('span', 'from', m.from), ctx.editing && !m.deleted ? editForm(m.text) : el('span', 'text', m.deleted ? 'message deleted' : m.text));
  if (m.edited !== undefined && !m.deleted) {
    const edited = el('span', 'edited', '(edited)');
    edited.title = `edited ${new Date(m.edited).toLocaleString()}`;
    li.append(edited);
  }
  li.append(time);
  if (m.seq === 0 || m.deleted) return li;

  const actions = el('span', 'actions');
  actions.append(button('pick', '☺', 'react'));
  if (mine) actions.append(button('edit', '✎', 'edit'));
  if (mine || ctx.moderates) actions.append(button('delete', '✕', 'delete'));
  li.append(actions);
  if (ctx.picking) {
    const picker = el('span', 'picker');
    picker.append(...PICKER.map((emoji) => emojiButton(emoji, emoji, reacted(m.reactions?.find((r) => r.emoji === emoji), ctx.me))));
    li.append(picker);
  }
  if (m.reactions && m.reactions.length > 0) {
    const chips = el('span', 'reactions');
    chips.append(...m.reactions.map((r) => chip(r, ctx.me)));
    li.append(chips);
  }
  return li;
}

function emojiButton(emoji: string, text: string, pressed: boolean): HTMLButtonElement {
  const b = el('button', 'reaction', text);
  b.type = 'button';
  b.dataset['action'] = 'react';
  b.dataset['emoji'] = emoji;
  b.setAttribute('aria-pressed', String(pressed));
  return b;
}

/** A reaction chip: the emoji and its count; pressed when the user is among them, and a click toggles. */
function chip(r: Reaction, me: string): HTMLButtonElement {
  const b = emojiButton(r.emoji, `${r.emoji} ${r.count}`, reacted(r, me));
  const more = r.count - r.users.length;
  b.title = `${r.users.join(', ')}${more > 0 ? ` and ${more} more` : ''}`;
  return b;
}

/** The inline edit of the user's own message: Enter saves, Escape (or Cancel) keeps the text. */
function editForm(text: string): HTMLFormElement {
  const form = el('form', 'edit');
  const input = el('input');
  input.value = text;
  input.maxLength = 4000;
  input.required = true;
  input.setAttribute('aria-label', 'edit message');
  const save = el('button', '', 'Save');
  save.type = 'submit';
  form.append(input, save, button('cancel', 'Cancel', 'cancel the edit'));
  return form;
}
