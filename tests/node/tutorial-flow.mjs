// The tutorial's flow through one npm client, driven from pytest (tests/test_npm_clients.py).
//
// Reads {url, wsUrl, operations} as JSON on stdin, runs the flow with the client's
// adapter, and prints what it observed as one JSON object on stdout; pytest asserts.
// An adapter, a thin layer over the client's own API:
//   mutate(mutation, variables)      -> its answer, over HTTP
//   query(query, variables)          -> its answer, over HTTP, never from a cache
//   queryOverWebSocket(query)        -> its answer, on the subscriptions' socket
//   subscribe(query, onEvent)        -> unsubscribe()
//   close()                          -> resolves once sockets are closed
//   connect(), subprotocol()         -> for clients that hold one socket open (optional)
// Protocol clients (graphql-ws, subscriptions-transport-ws) post over HTTP with `postData`;
// the libraries (Apollo Client, urql) with their own links and exchanges.

const EVENT_TIMEOUT_MS = 5000;
const FLOW_TIMEOUT_MS = 30000;
const EXIT_TIMEOUT_MS = 5000;

async function readInput() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return JSON.parse(Buffer.concat(chunks).toString("utf8"));
}

async function waitFor(condition, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (!condition() && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

// POST an operation as JSON and answer its `data`, as a hand-written HTTP client does.
export function postData(url) {
  return async (query, variables = {}) => {
    const response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ query, variables }),
    });
    return (await response.json()).data;
  };
}

async function tutorialFlow({ operations }, client) {
  const report = { users: [] };
  for (const createUser of operations.createUsers) report.users.push(await client.mutate(createUser));
  report.userId = await client.query(operations.userId);
  // A query with a mistake in it: how the client hands over the server's GraphQL error.
  if (operations.mistake) report.mistake = await client.query(operations.mistake);
  if (client.connect) {
    await client.connect();
    report.subprotocol = client.subprotocol();
  }

  const events = [];
  const unsubscribe = client.subscribe(operations.subscribe, (event) => events.push(event));
  // The server handles one socket's messages in order: once this answers,
  // the subscription sent before it on that socket is registered.
  report.beforeSending = await client.queryOverWebSocket(operations.userId);

  report.sentToSomeoneElse = await client.mutate(operations.send, { from: "1", to: "3", content: "not for user two" });
  report.sent = await client.mutate(operations.sendHello);
  await waitFor(() => events.length > 0, EVENT_TIMEOUT_MS);
  report.received = events.splice(0);
  report.unknownRecipient = await client.mutate(operations.send, { from: "1", to: "99", content: "to nobody" });

  unsubscribe();
  report.afterUnsubscribing = await client.queryOverWebSocket(operations.userId);
  report.sentAfterUnsubscribing = await client.mutate(operations.send, { from: "1", to: "2", content: "after unsubscribing" });
  await client.queryOverWebSocket(operations.userId);
  await new Promise((resolve) => setTimeout(resolve, 300));
  report.receivedAfterUnsubscribing = events.splice(0);
  await client.close();
  return report;
}

export async function run(makeClient) {
  const timer = setTimeout(() => {
    console.error("tutorial flow timed out");
    process.exit(2);
  }, FLOW_TIMEOUT_MS);
  const input = await readInput();
  const report = await tutorialFlow(input, makeClient(input));
  clearTimeout(timer);
  process.stdout.write(JSON.stringify(report) + "\n");
  // Once closed, nothing should keep Node running; if something does, say so and stop.
  setTimeout(() => {
    console.error("still running after close(): a socket or timer was left open");
    process.exit(3);
  }, EXIT_TIMEOUT_MS).unref();
}
