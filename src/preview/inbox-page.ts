// The sandbox inbox page: a static HTML shell, its stylesheet and script, all served by the service itself.
import { inboxClient } from './inbox-client.js'

/** How often the page asks for new messages. */
export const INBOX_POLL_MS = 1500

/**
 * Only the service's own files, no inline script or style, no framing; media are never loaded
 * (img-src 'self' and no <img> for a value's URL). A value that slipped into markup could run nothing.
 */
export const INBOX_CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

export const INBOX_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sandbox inbox · jelou-hsm-proxy</title>
<link rel="icon" href="/sandbox/inbox.svg">
<link rel="stylesheet" href="/sandbox/inbox.css">
<script src="/sandbox/inbox.js" defer></script>
</head>
<body>
<header class="bar">
<h1>Sandbox inbox</h1>
<p>What the built-in Jelou look-alike received, newest first, as the recipient would see it. Nothing here was delivered. Tap a quick reply or type an answer to reply as the recipient: the sandbox sends Jelou's reply event, and a message's callbacks show on <a href="/sandbox/callbacks">the callback catcher</a>. <a href="/docs">API docs</a> · <a href="/sandbox/inbox.json">JSON</a></p>
<p id="state" class="state">loading…</p>
</header>
<main class="phone">
<section id="scheduled-box" class="scheduled-box" aria-labelledby="scheduled-title" hidden>
<h2 id="scheduled-title">Scheduled</h2>
<p class="scheduled-note">Sends scheduled for later (sendAt), every caller's: the waiting ones first, soonest on top, then what became of the others. Once sent, each also shows below as a received message.</p>
<ol id="scheduled" class="scheduled"></ol>
</section>
<p id="empty" class="empty">No messages yet: send one from <a href="/docs">the API docs</a>.</p>
<ol id="inbox" class="inbox"></ol>
</main>
</body>
</html>
`

export const INBOX_SCRIPT = `"use strict";\n(${inboxClient.toString()})(${INBOX_POLL_MS});\n`

export const INBOX_CSS = `
:root { color-scheme: light; --chat: #efeae2; --bubble: #fff; --ink: #111b21; --muted: #667781; --link: #027eb5; --tick: #53bdeb; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); background: #d1d7db; }
.bar { background: #008069; color: #fff; padding: 12px 20px; }
.bar h1 { margin: 0 0 4px; font-size: 20px; }
.bar p { margin: 2px 0; font-size: 13px; }
.bar a { color: #fff; }
.state { opacity: .85; }
.phone { max-width: 480px; margin: 16px auto; padding: 12px; min-height: 70vh; background: var(--chat); border-radius: 16px; box-shadow: 0 2px 12px rgba(0,0,0,.15); }
.empty { color: var(--muted); text-align: center; }
.inbox { list-style: none; margin: 0; padding: 0; }
.message { margin: 0 0 18px; }
.meta { display: flex; gap: 8px; font-size: 12px; color: var(--muted); margin: 0 0 3px 4px; flex-wrap: wrap; }
.meta .to { font-weight: 600; color: var(--ink); }
.bubble { background: var(--bubble); border-radius: 0 8px 8px 8px; padding: 6px 8px 4px; max-width: 92%; box-shadow: 0 1px .5px rgba(11,20,26,.13); overflow-wrap: anywhere; }
.bubble.refused { background: #fde8e8; }
.header-text { font-weight: 700; margin-bottom: 4px; }
.media { background: #dfe5e7; border-radius: 6px; padding: 18px 8px; margin-bottom: 6px; text-align: center; display: flex; flex-direction: column; gap: 4px; }
.media-kind { font-weight: 700; letter-spacing: .1em; color: var(--muted); }
.media-url, .thumbnail { font-size: 12px; color: var(--link); word-break: break-all; }
.missing { color: #b42318; }
.body { white-space: pre-wrap; }
.body.unknown { font-style: italic; color: var(--muted); }
.values { margin: 4px 0; padding-left: 22px; }
.footer { color: var(--muted); font-size: 13px; margin-top: 4px; }
.offer { color: #b54708; font-size: 13px; margin-top: 4px; }
.time { text-align: right; font-size: 11px; color: var(--muted); display: flex; justify-content: flex-end; gap: 4px; }
.ticks-read, .ticks-reply { color: var(--tick); }
.ticks-failed { color: #b42318; font-weight: 700; }
.buttons { display: flex; flex-direction: column; gap: 2px; max-width: 92%; margin-top: 2px; }
.button { display: block; background: var(--bubble); color: var(--link); text-align: center; padding: 8px; border-radius: 8px; text-decoration: none; box-shadow: 0 1px .5px rgba(11,20,26,.13); }
.button-code { display: block; font-family: ui-monospace, monospace; color: var(--ink); font-size: 13px; }
.cards { display: flex; gap: 8px; overflow-x: auto; padding: 6px 0; }
.card { flex: 0 0 220px; background: var(--bubble); border-radius: 8px; padding: 6px; box-shadow: 0 1px .5px rgba(11,20,26,.13); }
.card .buttons { max-width: none; }
.card .button { box-shadow: none; border-top: 1px solid #e9edef; border-radius: 0; }
.tap { width: 100%; border: 0; font: inherit; cursor: pointer; }
.tap:hover { background: #f5f6f6; }
.tap:disabled { opacity: .6; cursor: progress; }
.conversation { margin-top: 6px; }
.replies { list-style: none; margin: 0 0 6px; padding: 0; display: flex; flex-direction: column; align-items: flex-end; gap: 4px; }
.reply { background: #d9fdd3; border-radius: 8px 0 8px 8px; padding: 6px 8px 4px; max-width: 80%; white-space: pre-wrap; overflow-wrap: anywhere; box-shadow: 0 1px .5px rgba(11,20,26,.13); }
.reply .payload { margin-right: auto; font-family: ui-monospace, monospace; }
.compose { display: flex; gap: 6px; }
.reply-text { flex: 1; min-width: 0; font: inherit; padding: 6px 12px; border: 1px solid #d1d7db; border-radius: 18px; background: #fff; }
.reply-send { font: inherit; border: 0; border-radius: 18px; padding: 6px 14px; background: #008069; color: #fff; cursor: pointer; }
.reply-send:disabled { opacity: .6; cursor: progress; }
.reply-state { margin: 4px 0 0 4px; font-size: 12px; color: var(--muted); }
.reply-state:empty { display: none; }
.reply-state.failed { color: #b42318; }
.scheduled-box { margin: 0 0 18px; padding: 8px 10px; background: #fff8e1; border-radius: 8px; box-shadow: 0 1px .5px rgba(11,20,26,.13); }
.scheduled-box h2 { margin: 0; font-size: 15px; }
.scheduled-note { margin: 2px 0 6px; font-size: 12px; color: var(--muted); }
.scheduled { list-style: none; margin: 0; padding: 0; display: flex; flex-direction: column; gap: 6px; }
.schedule { display: flex; flex-wrap: wrap; align-items: center; gap: 4px 8px; font-size: 13px; padding: 6px 0; border-top: 1px solid #f0e2b6; }
.schedule:first-child { border-top: 0; }
.schedule .to { font-weight: 600; }
.schedule .send-at { color: var(--muted); }
.schedule-state { font-size: 11px; font-weight: 700; text-transform: uppercase; letter-spacing: .05em; padding: 1px 6px; border-radius: 8px; background: #e9edef; color: var(--ink); }
.state-scheduled, .state-sending { background: #d9fdd3; color: #0a5c36; }
.state-sent { background: #d6efff; color: #027eb5; }
.state-cancelled, .state-expired { background: #e9edef; color: var(--muted); }
.state-failed { background: #fde8e8; color: #b42318; }
.schedule-cancel { margin-left: auto; font: inherit; font-size: 12px; border: 1px solid #b42318; color: #b42318; background: #fff; border-radius: 14px; padding: 2px 10px; cursor: pointer; }
.schedule-cancel:disabled { opacity: .6; cursor: progress; }
.schedule-note { flex-basis: 100%; margin: 0; font-size: 12px; color: var(--muted); }
.schedule-note:empty { display: none; }
.schedule-note.failed { color: #b42318; }
.problems { margin: 4px 0 0; padding: 6px 10px 6px 26px; background: #fef0c7; border-radius: 8px; font-size: 12px; color: #7a2e0e; max-width: 92%; }
`

/** The tab icon: a speech bubble, so the browser does not ask for a missing /favicon.ico. */
export const INBOX_ICON = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><path fill="#008069" d="M2 2h12a1 1 0 0 1 1 1v8a1 1 0 0 1-1 1H6l-4 3v-3a1 1 0 0 1-1-1V3a1 1 0 0 1 1-1z"/></svg>'
