// A real OAuth 2.0 authorization server on loopback for the hub's connector token tests (npm oidc-provider).
//
//   OAUTH_CLIENTS='[{"client_id": …}]' node server.js --port 0 --access-ttl 3600
//
// Client credentials (client_secret_basic and client_secret_post), the authorization code grant with an
// interaction that signs in the `login_hint` account and consents at once (so a test can obtain a first
// refresh token over plain HTTP), refresh tokens rotated on every use (reuse of a rotated one revokes the
// whole grant), token introspection (/token/introspection) and revocation.
//
// stdout: one JSON line per event: {"event": "listening", "port": N, "issuer": …} first, then
// "request" (every HTTP request: method, path, status, client_auth), "grant" (a token issued: grant_type, client_id),
// "grant_error" (error, description), "grant_revoked" (grant_id).
// stdin, one command a line: "fail <status>" makes the token endpoint answer that status,
// "heal" ends that, "stop" exits; each is acknowledged with {"event": "command", "name": …}.
import http from 'node:http';
import readline from 'node:readline';

import Provider from 'oidc-provider';

function option(name, fallback) {
	const index = process.argv.indexOf('--' + name);
	if (index !== -1 && index + 1 < process.argv.length) {
		return process.argv[index + 1];
	}
	const fromEnv = process.env['OAUTH_' + name.toUpperCase().replace(/-/g, '_')];
	return fromEnv !== undefined ? fromEnv : fallback;
}

function emit(record) {
	process.stdout.write(JSON.stringify(record) + '\n');
}

const port = Number(option('port', '0'));
const accessTtl = Number(option('access-ttl', '3600'));
const refreshTtl = Number(option('refresh-ttl', String(14 * 24 * 3600)));
const clients = JSON.parse(option('clients', '[]'));
const state = {failStatus: null};

function configuration() {
	return {
		clients,
		// opaque tokens in the in-memory adapter: this process is the whole server, restarted per test session
		findAccount: async (_ctx, sub) => ({accountId: sub, claims: async () => ({sub})}),
		scopes: ['openid', 'offline_access', 'events:write', 'crm'],
		features: {
			devInteractions: {enabled: false},
			clientCredentials: {enabled: true},
			// any authenticated confidential client (a CRM test server) may ask whether a bearer token is active
			introspection: {enabled: true, allowedPolicy: async (_ctx, client) => client.clientAuthMethod !== 'none'},
			revocation: {enabled: true, allowedPolicy: async (_ctx, client, token) => token.clientId === client.clientId},
		},
		pkce: {required: () => false},
		rotateRefreshToken: true,
		// every authorization code grant gets a refresh token, bound to the grant rather than a browser session
		issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
		expiresWithSession: async () => false,
		ttl: {
			AccessToken: accessTtl,
			ClientCredentials: accessTtl,
			RefreshToken: refreshTtl,
			AuthorizationCode: 60,
			Grant: refreshTtl,
			Interaction: 600,
			Session: 3600,
		},
		cookies: {keys: ['hub-test-oauth-server-cookie-key']},
	};
}

// the interaction a person would go through: sign in as login_hint (or "guest") and consent to what was asked
async function autoConsent(provider, ctx) {
	const details = await provider.interactionDetails(ctx.req, ctx.res);
	const {params, session, grantId} = details;
	const accountId = session?.accountId ?? params.login_hint ?? 'guest';
	const grant = grantId ? await provider.Grant.find(grantId) : new provider.Grant({accountId, clientId: params.client_id});
	grant.addOIDCScope(String(params.scope ?? 'openid'));
	const consent = {grantId: await grant.save()};
	const returnTo = await provider.interactionResult(ctx.req, ctx.res, {login: {accountId}, consent}, {mergeWithLastSubmission: false});
	ctx.status = 303;
	ctx.redirect(returnTo);
}

// which client authentication a request carried (oidc-provider accepts either for a secret-based client)
function clientAuth(ctx) {
	if (String(ctx.headers.authorization ?? '').toLowerCase().startsWith('basic ')) {
		return 'client_secret_basic';
	}
	return ctx.oidc?.params?.client_secret ? 'client_secret_post' : null;
}

async function main() {
	// listen first, so the issuer names the real port (discovery and introspection agree with what clients call)
	const server = http.createServer();
	await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
	const boundPort = server.address().port;
	const issuer = `http://127.0.0.1:${boundPort}`;
	const provider = new Provider(issuer, configuration());

	provider.use(async (ctx, next) => {
		if (ctx.path === '/token' && state.failStatus !== null) {
			ctx.status = state.failStatus;
			ctx.body = {error: 'temporarily_unavailable'};
		} else if (ctx.path.startsWith('/interaction/')) {
			await autoConsent(provider, ctx);
		} else {
			await next();
		}
		emit({event: 'request', method: ctx.method, path: ctx.path, status: ctx.status, client_auth: clientAuth(ctx)});
	});
	provider.on('grant.success', (ctx) => {
		emit({event: 'grant', grant_type: ctx.oidc.params.grant_type, client_id: ctx.oidc.client?.clientId ?? null});
	});
	provider.on('grant.error', (ctx, error) => {
		emit({event: 'grant_error', error: error.error, description: error.error_description ?? null});
	});
	provider.on('grant.revoked', (_ctx, grantId) => emit({event: 'grant_revoked', grant_id: grantId}));
	provider.on('server_error', (_ctx, error) => emit({event: 'server_error', message: String(error)}));

	server.on('request', provider.callback());
	emit({event: 'listening', port: boundPort, issuer});

	const commands = readline.createInterface({input: process.stdin});
	commands.on('line', (line) => {
		const [name, argument] = line.trim().split(/\s+/);
		if (name === 'fail') {
			state.failStatus = Number(argument);
		} else if (name === 'heal') {
			state.failStatus = null;
		} else if (name === 'stop') {
			server.close();
			process.exit(0);
		}
		emit({event: 'command', name});
	});
	commands.on('close', () => process.exit(0));
}

main();
