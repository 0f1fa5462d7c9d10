// A real SMPP 3.4 server on loopback for the hub's gateway tests (the server half of npm `smpp`).
//
//   node server.js --port 0 --system-id hub --password secret
//
// stdout: one JSON line per event: {"event": "listening", "port": N} first, then "bind", "submit_sm",
// "enquire_link", "unbind", "close".
// stdin, one command a line: "drop" closes every session, "refuse" / "accept" toggle refusing binds
// (ESME_RBINDFAIL), "mute" / "unmute" toggle answering submit_sm, "stop" exits.
'use strict';

const smpp = require('smpp');

function option(name, fallback) {
	const index = process.argv.indexOf('--' + name);
	if (index !== -1 && index + 1 < process.argv.length) {
		return process.argv[index + 1];
	}
	const fromEnv = process.env['SMPP_' + name.toUpperCase().replace(/-/g, '_')];
	return fromEnv !== undefined ? fromEnv : fallback;
}

const port = Number(option('port', '0'));
const systemId = option('system-id', 'hub');
const password = option('password', 'secret');
const state = {refuseBinds: false, muted: false, nextId: 1};

function emit(record) {
	process.stdout.write(JSON.stringify(record) + '\n');
}

function text(value) {
	if (value === undefined || value === null) {
		return null;
	}
	if (typeof value === 'string') {
		return value;
	}
	if (Buffer.isBuffer(value)) {
		return value.toString('hex');
	}
	return typeof value.message === 'string' ? value.message : Buffer.from(value.message).toString('hex');
}

function udhHex(value) {
	if (!value || typeof value !== 'object' || !value.udh) {
		return null;
	}
	return Buffer.concat(value.udh.map((part) => Buffer.from(part))).toString('hex');
}

function onBind(session, pdu) {
	const identity = {system_id: pdu.system_id, system_type: pdu.system_type};
	let status = smpp.ESME_ROK;
	if (state.refuseBinds) {
		status = smpp.ESME_RBINDFAIL;
	} else if (pdu.system_id !== systemId) {
		status = smpp.ESME_RINVSYSID;
	} else if (pdu.password !== password) {
		status = smpp.ESME_RINVPASWD;
	}
	emit({event: 'bind', ...identity, command: pdu.command, ok: status === smpp.ESME_ROK, status});
	session.send(pdu.response({command_status: status, system_id: 'hub-test-smsc'}));
	if (status === smpp.ESME_ROK) {
		session.boundAs = pdu.system_id;
	} else {
		session.close();
	}
}

function onSubmit(session, pdu) {
	if (!session.boundAs) {
		session.send(pdu.response({command_status: smpp.ESME_RINVBNDSTS}));
		return;
	}
	const messageId = 'smsc-' + state.nextId++;
	emit({
		event: 'submit_sm',
		system_id: session.boundAs,
		message_id: messageId,
		source_addr: pdu.source_addr,
		source_addr_ton: pdu.source_addr_ton,
		destination_addr: pdu.destination_addr,
		dest_addr_ton: pdu.dest_addr_ton,
		data_coding: pdu.data_coding,
		esm_class: pdu.esm_class,
		short_message: text(pdu.short_message),
		udh: udhHex(pdu.short_message),
		message_payload: text(pdu.message_payload),
		muted: state.muted,
	});
	if (!state.muted) {
		session.send(pdu.response({message_id: messageId}));
	}
}

const server = smpp.createServer((session) => {
	session.on('bind_transceiver', (pdu) => onBind(session, pdu));
	session.on('bind_transmitter', (pdu) => onBind(session, pdu));
	session.on('submit_sm', (pdu) => onSubmit(session, pdu));
	session.on('enquire_link', (pdu) => {
		emit({event: 'enquire_link', system_id: session.boundAs || null});
		session.send(pdu.response());
	});
	session.on('unbind', (pdu) => {
		emit({event: 'unbind', system_id: session.boundAs || null});
		session.send(pdu.response());
		session.close();
	});
	session.on('close', () => emit({event: 'close', system_id: session.boundAs || null}));
	session.on('error', (error) => emit({event: 'error', message: String(error)}));
});

const commands = {
	drop: () => server.sessions.slice().forEach((session) => session.destroy()),
	refuse: () => { state.refuseBinds = true; },
	accept: () => { state.refuseBinds = false; },
	mute: () => { state.muted = true; },
	unmute: () => { state.muted = false; },
	stop: () => process.exit(0),
};

let pending = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => {
	pending += chunk;
	let newline;
	while ((newline = pending.indexOf('\n')) !== -1) {
		const command = pending.slice(0, newline).trim();
		pending = pending.slice(newline + 1);
		if (commands[command]) {
			commands[command]();
			emit({event: 'command', command});
		} else if (command) {
			emit({event: 'error', message: 'unknown command ' + command});
		}
	}
});
process.stdin.on('end', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));

server.listen(port, '127.0.0.1', () => emit({event: 'listening', port: server.address().port}));
