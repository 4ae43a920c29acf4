// The tutorial's flow through a GraphQL client library (Apollo Client, urql), driven from
// pytest (tests/test_npm_clients.py).
//
// Reads {url, wsUrl, operations} as JSON on stdin, runs the flow with the library's
// adapter, and prints what it observed as one JSON object on stdout; pytest asserts.
// Queries and mutations go over HTTP and subscriptions over WebSocket, as the libraries'
// documentation wires them. An adapter, a thin layer over the library's own API:
//   query(query, variables)          -> {data, errors}, over HTTP, never from a cache
//   queryOverWebSocket(query)        -> {data, errors}, on the subscriptions' socket
//   mutate(mutation, variables)      -> {data, errors}
//   subscribe(query, onEvent)        -> unsubscribe()
//   close()                          -> resolves once sockets are closed

import { readInput, waitFor } from "./flow-io.mjs";

const EVENT_TIMEOUT_MS = 5000;
const FLOW_TIMEOUT_MS = 30000;
const EXIT_TIMEOUT_MS = 5000;

async function tutorialFlow({ operations }, client) {
  const report = { users: [] };
  for (const createUser of operations.createUsers) report.users.push(await client.mutate(createUser));
  report.userId = await client.query(operations.userId);

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
