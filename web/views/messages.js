// Messages: the private threads of this seat, in a side panel every role has.
//
// A button in the top bar opens it and shows how many messages are unread.
// The list names each thread (the chair: one per delegation; a delegation:
// the secretariat and the technical team; a technician: every seat) with its
// own unread count; the open thread shows its messages and a box to answer.
// The chair also opens and closes the public chat here.

import {busy, h, keyedList, setAttr, setText} from '../dom.js';
import {has, t, timeOfDay} from '../i18n.js';
import {EVERYONE, Inbox, MAX_TEXT, threadsFor} from '../inbox.js';
import {admitted} from '../room.js';
import {badge, updateBadge} from '../widgets/badge.js';
import {icon} from '../widgets/icons.js';

/** @typedef {import('../conference.js').ViewContext} ViewContext */
/** @typedef {import('../protocol.js').RoomState} RoomState */
/** @typedef {import('../protocol.js').RoomUpdate} RoomUpdate */
/** @typedef {import('../protocol.js').ChatMessage} ChatMessage */
/** @typedef {import('../inbox.js').Thread} Thread */

/** Characters left at which the counter shows. */
const COUNT_FROM = 200;

export class MessagesPanel {
  /** @param {ViewContext} ctx */
  constructor(ctx) {
    /** @private */ this._ctx = ctx;
    const you = ctx.conn.you;
    /** @private */ this._you = you?.id ?? '';
    /** @private */ this._inbox = new Inbox(`palabra.read.${ctx.conferenceId}.${this._you}`);
    /** @private @type {RoomState | null} */ this._state = ctx.conn.room;
    /** @private @type {string | null} */ this._thread = null;
    /** @private */ this._open = false;

    /** @private */ this._count = h('span', {class: 'messages-count', attrs: {'data-testid': 'messages-unread'}});
    /** @private */ this._toggleLabel = h('span', {class: 'messages-toggle-label'});
    /** The top-bar button. */
    this.toggle = h('button', {
      class: 'button small messages-toggle', type: 'button', id: 'messages-toggle',
      attrs: {'aria-expanded': 'false', 'aria-controls': 'messages-drawer', 'data-testid': 'messages-toggle'},
      on: {click: () => this.setOpen(!this._open)},
    }, icon('chat'), this._toggleLabel, this._count);

    /** @private */ this._heading = h('h2', {class: 'panel-title', id: 'messages-heading'});
    /** @private */ this._close = h('button', {
      class: 'icon-button', type: 'button', attrs: {'data-testid': 'messages-close'},
      on: {click: () => this.setOpen(false)},
    }, icon('x'));
    /** @private */ this._publicChat = h('button', {
      class: 'button small', type: 'button', hidden: true, attrs: {'data-testid': 'public-chat-toggle'},
      on: {click: () => void busy(this._publicChat, () => this._togglePublicChat())},
    });
    /** @private */ this._list = h('ul', {class: 'thread-list', id: 'thread-list'});
    /** @private */ this._listEmpty = h('p', {class: 'empty'});
    /** @private */ this._threadTitle = h('h3', {class: 'thread-title', id: 'thread-title'});
    /** @private */ this._back = h('button', {
      class: 'button small thread-back', type: 'button', on: {click: () => this._choose(null)},
    });
    /** @private */ this._log = h('ol', {class: 'message-log', attrs: {'data-testid': 'message-log', 'aria-labelledby': 'thread-title'}});
    /** @private */ this._logEmpty = h('p', {class: 'empty'});
    /** @private */ this._textLabel = h('label', {class: 'visually-hidden', attrs: {for: 'message-text'}});
    /** @private */ this._text = /** @type {HTMLTextAreaElement} */ (h('textarea', {
      id: 'message-text', class: 'message-text', rows: 2, maxLength: MAX_TEXT,
      attrs: {'data-testid': 'message-text'},
      on: {
        input: () => this._renderComposer(),
        keydown: (e) => this._onKey(/** @type {KeyboardEvent} */ (e)),
      },
    }));
    /** @private */ this._left = h('span', {class: 'message-left', attrs: {'aria-live': 'polite'}});
    /** @private */ this._send = h('button', {
      class: 'button small primary', type: 'submit', attrs: {'data-testid': 'message-send'},
    });
    /** @private */ this._form = h('form', {class: 'message-form', on: {submit: (e) => {
      e.preventDefault();
      void busy(this._send, () => this._submit());
    }}}, this._textLabel, this._text, h('div', {class: 'message-form-row'}, this._left, this._send));
    /** @private */ this._conversation = h('section', {class: 'conversation', hidden: true,
      attrs: {'aria-labelledby': 'thread-title'}},
    h('div', {class: 'conversation-head'}, this._back, this._threadTitle), this._log, this._logEmpty, this._form);
    /** @private */ this._threads = h('nav', {class: 'threads', attrs: {'aria-labelledby': 'messages-heading'}},
      this._list, this._listEmpty);
    /** The side panel, placed in the page by the shell. */
    this.drawer = h('aside', {
      class: 'messages-drawer', id: 'messages-drawer', hidden: true,
      attrs: {'aria-labelledby': 'messages-heading', 'data-testid': 'messages-drawer'},
      on: {keydown: (e) => { if (/** @type {KeyboardEvent} */ (e).key === 'Escape') this.setOpen(false); }},
    }, h('div', {class: 'panel-head messages-head'}, this._heading, this._publicChat, this._close),
    this._threads, this._conversation);

    /** @private */ this._onHistory = (/** @type {Event} */ e) => {
      this._inbox.replace(/** @type {CustomEvent<{messages: ChatMessage[]}>} */ (e).detail.messages);
    };
    /** @private */ this._onChange = (/** @type {Event} */ e) => {
      const {added} = /** @type {CustomEvent<{added: ChatMessage[]}>} */ (e).detail;
      this._tell(added);
      this._markShownRead();
      this.render();
    };
    ctx.conn.addEventListener('messagehistory', this._onHistory);
    this._inbox.addEventListener('change', this._onChange);
    if (ctx.conn.messageHistory) this._inbox.replace(ctx.conn.messageHistory);
    this.retranslate();
  }

  /** Unread messages of every thread (for tests and the title). */
  get unread() {
    return this._inbox.totalUnread(this._you);
  }

  /** @param {RoomUpdate} update */
  update(update) {
    this._state = update.state;
    this._inbox.take(update.events);
    this.render();
  }

  /** @param {boolean} open */
  setOpen(open) {
    this._open = open;
    this.drawer.hidden = !open;
    setAttr(this.toggle, 'aria-expanded', String(open));
    document.body.classList.toggle('messages-open', open);
    if (open) {
      const threads = this._threadList();
      // One thread (a delegation's secretariat first): straight into it.
      if (!this._thread && threads.length > 0 && this._ctx.conn.you?.role !== 'chair'
          && this._ctx.conn.you?.role !== 'technician') {
        this._thread = threads[0].id;
      }
      this._markShownRead();
      this.render();
      if (!this._thread) this._threads.scrollTop = 0; // the latest conversation is on top
      (this._thread ? this._text : this._close).focus();
    } else {
      // Many threads: the list (with its unread counts) is where to come back to.
      const role = this._ctx.conn.you?.role;
      if (role === 'chair' || role === 'technician') this._thread = null;
      this.render();
      this.toggle.focus();
    }
  }

  retranslate() {
    setText(this._toggleLabel, t('msg.title'));
    setText(this._heading, t('msg.title'));
    setAttr(this._close, 'aria-label', t('close'));
    setText(this._back, t('msg.back'));
    setText(this._textLabel, t('msg.write'));
    setAttr(this._text, 'placeholder', t('msg.placeholder'));
    setText(this._send, t('msg.send'));
    setText(this._listEmpty, t('msg.noThreads'));
    setText(this._logEmpty, t('msg.empty'));
    this.render();
  }

  render() {
    const you = this._ctx.conn.you;
    const inRoom = !!you && !!this._state && admitted(this._state, you.id);
    this.toggle.hidden = !inRoom;
    if (!inRoom && this._open) this.setOpen(false);
    const unread = this.unread;
    setText(this._count, String(unread));
    this._count.hidden = unread === 0;
    setAttr(this.toggle, 'aria-label', unread > 0 ? t('msg.toggleUnread', {count: unread}) : t('msg.title'));
    this.toggle.classList.toggle('attention', unread > 0);

    const isChair = you?.role === 'chair';
    const publicChat = !!this._state?.settings.public_chat;
    this._publicChat.hidden = !isChair;
    setText(this._publicChat, publicChat ? t('msg.publicClose') : t('msg.publicOpen'));
    setAttr(this._publicChat, 'aria-pressed', String(publicChat));

    const threads = this._threadList();
    if (this._thread && !threads.some((x) => x.id === this._thread)) this._thread = null;
    this._listEmpty.hidden = threads.length > 0;
    keyedList(this._list, threads, (x) => x.id, (x) => this._row(x), (li, x) => this._fill(li, x));
    this.drawer.dataset.mode = this._thread ? 'thread' : 'list';
    this._renderConversation();
  }

  destroy() {
    this._ctx.conn.removeEventListener('messagehistory', this._onHistory);
    this._inbox.removeEventListener('change', this._onChange);
    this.toggle.remove();
    this.drawer.remove();
    document.body.classList.remove('messages-open');
  }

  /** @private @returns {Thread[]} */
  _threadList() {
    const you = this._ctx.conn.you;
    return you ? threadsFor(you, this._state, this._inbox.messages) : [];
  }

  /**
   * The thread's name as the seat sees it.
   * @private
   * @param {Thread} thread
   */
  _name(thread) {
    switch (thread.kind) {
      case 'secretariat':
        return t('msg.secretariat');
      case 'technicians':
        return t('msg.technicians');
      case 'everyone':
        return t('msg.everyone');
      case 'delegation': {
        const d = this._state?.delegations.find((x) => x.delegation_id === thread.delegationId);
        return d?.name ?? thread.delegationId ?? '';
      }
      default: {
        const pid = thread.participantId ?? '';
        const p = this._state?.participants.find((x) => x.participant_id === pid);
        const sent = this._inbox.of(thread.id).find((m) => m.sender_id === pid);
        return p?.name ?? sent?.sender_name ?? pid;
      }
    }
  }

  /**
   * The delegation badge of a thread in a list of many (the chair's, the technicians').
   * @private
   * @param {Thread} thread
   */
  _delegationOf(thread) {
    if (thread.kind !== 'delegation' && thread.kind !== 'seat') return null;
    const id = thread.delegationId ?? this._state?.participants
      .find((p) => p.participant_id === thread.participantId)?.delegation_id ?? null;
    const d = id ? this._state?.delegations.find((x) => x.delegation_id === id) : null;
    return d ? {id: d.delegation_id, name: d.name, code: d.country_code} : null;
  }

  /**
   * Who a seat is, for a technician's quiet threads (two seats may share a name).
   * @private
   * @param {Thread} thread
   */
  _seatRole(thread) {
    if (thread.kind !== 'seat') return '';
    const p = this._state?.participants.find((x) => x.participant_id === thread.participantId);
    if (!p) return '';
    const d = this._state?.delegations.find((x) => x.delegation_id === p.delegation_id);
    const role = t(/** @type {any} */ (`role.${p.role}`));
    return d ? `${d.name} · ${role}` : role;
  }

  /** @private @param {Thread} thread */
  _row(thread) {
    const button = h('button', {
      class: 'thread-button', type: 'button', on: {click: () => this._choose(thread.id)},
    }, badge(null, 'thread-badge'), h('span', {class: 'thread-name'}),
    h('span', {class: 'thread-last'}), h('span', {class: 'thread-unread'}));
    return h('li', {dataset: {thread: thread.id}}, button);
  }

  /**
   * @private
   * @param {HTMLElement} li
   * @param {Thread} thread
   */
  _fill(li, thread) {
    const button = /** @type {HTMLButtonElement} */ (li.firstElementChild);
    const [code, name, last, count] = /** @type {HTMLElement[]} */ ([...button.children]);
    updateBadge(code, this._delegationOf(thread));
    const title = this._name(thread);
    setText(name, title);
    const latest = this._inbox.of(thread.id).at(-1);
    setText(last, latest ? `${latest.sender_id === this._you ? t('you') : latest.sender_name}: ${latest.text}`
      : this._seatRole(thread));
    const unread = this._inbox.unread(thread.id, this._you);
    setText(count, String(unread));
    count.hidden = unread === 0;
    setAttr(button, 'aria-current', thread.id === this._thread ? 'true' : null);
    setAttr(button, 'aria-label', unread > 0 ? t('msg.threadUnread', {name: title, count: unread}) : title);
    li.classList.toggle('unread', unread > 0);
  }

  /** @private @param {string | null} thread */
  _choose(thread) {
    this._thread = thread;
    this._markShownRead();
    this.render();
    if (thread) this._text.focus();
    else this._list.querySelector('button')?.focus();
  }

  /** @private */
  _renderConversation() {
    const thread = this._threadList().find((x) => x.id === this._thread) ?? null;
    this._conversation.hidden = !thread;
    if (!thread) return;
    setText(this._threadTitle, this._name(thread));
    const messages = this._inbox.of(thread.id);
    this._logEmpty.hidden = messages.length > 0;
    const atBottom = this._log.scrollHeight - this._log.scrollTop - this._log.clientHeight < 40;
    const before = this._log.children.length;
    keyedList(this._log, messages, (m) => m.message_id, (m) => this._message(m), (li, m) => this._fillMessage(li, m));
    if (atBottom || before !== messages.length) this._log.scrollTop = this._log.scrollHeight;
    const closed = thread.id === EVERYONE && !this._state?.settings.public_chat;
    this._text.disabled = closed;
    setAttr(this._text, 'placeholder', closed ? t('msg.publicClosed') : t('msg.placeholder'));
    this._renderComposer();
  }

  /** @private @param {ChatMessage} m */
  _message(m) {
    return h('li', {class: 'message', dataset: {id: m.message_id}},
      h('div', {class: 'message-meta'}, h('span', {class: 'message-sender'}), h('time', {class: 'message-time'})),
      h('p', {class: 'message-body'}));
  }

  /**
   * @private
   * @param {HTMLElement} li
   * @param {ChatMessage} m
   */
  _fillMessage(li, m) {
    const mine = m.sender_id === this._you;
    li.classList.toggle('mine', mine);
    const [meta, body] = /** @type {HTMLElement[]} */ ([...li.children]);
    const [sender, time] = /** @type {HTMLElement[]} */ ([...meta.children]);
    const role = t(/** @type {any} */ (`role.${m.sender_role}`));
    setText(sender, mine ? t('you') : m.sender_name === role ? role : `${m.sender_name} · ${role}`);
    setText(time, timeOfDay(m.at));
    setAttr(time, 'datetime', new Date(m.at * 1000).toISOString());
    setText(body, m.text);
  }

  /** @private */
  _renderComposer() {
    const left = MAX_TEXT - this._text.value.length;
    setText(this._left, left <= COUNT_FROM ? t('msg.left', {count: left}) : '');
    this._send.disabled = this._text.disabled || this._text.value.trim() === '';
  }

  /** @private @param {KeyboardEvent} e */
  _onKey(e) {
    // Enter sends; Shift+Enter is a new line (as in every chat).
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      this._form.requestSubmit();
    }
  }

  /** @private */
  async _submit() {
    const thread = this._thread;
    const text = this._text.value;
    if (!thread || !text.trim()) return;
    try {
      await this._ctx.conn.sendMessage(thread, text);
    } catch (e) {
      // Kept in the box: nothing was stored, the seat may fix it and send again.
      const code = /** @type {{code?: string}} */ (e)?.code ?? 'internal';
      const key = `msg.error.${code}`;
      this._ctx.toast(has(key) ? t(key) : t('msg.error.other', {code}), 'error');
      return;
    }
    this._text.value = '';
    this._renderComposer();
    this._text.focus();
  }

  /** @private */
  async _togglePublicChat() {
    const enabled = !this._state?.settings.public_chat;
    await this._ctx.act('settings.public_chat', {enabled});
  }

  /** Marks the open thread read while the panel shows it. @private */
  _markShownRead() {
    if (this._open && this._thread && document.visibilityState !== 'hidden') {
      this._inbox.markRead(this._thread);
    }
  }

  /**
   * A toast and an announcement for messages of others not on screen.
   * @private
   * @param {ChatMessage[]} added
   */
  _tell(added) {
    for (const m of added) {
      if (m.sender_id === this._you) continue;
      if (this._open && this._thread === m.thread) {
        this._ctx.announce(t('msg.announce', {name: m.sender_name, text: m.text}));
        continue;
      }
      const thread = this._threadList().find((x) => x.id === m.thread);
      const where = thread && thread.kind !== 'secretariat' && thread.kind !== 'technicians'
        && thread.kind !== 'seat' ? ` (${this._name(thread)})` : '';
      const text = t('msg.newFrom', {name: m.sender_name + where});
      this._ctx.toast(text);
      this._ctx.announce(text);
    }
  }
}
