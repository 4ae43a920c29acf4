// The tutorial's flow, driven from pytest (tests/test_npm_clients.py) through one npm client.
//
// Reads {url, wsUrl, operations} as JSON on stdin, runs the flow with the client's
// adapter, and prints what it observed as one JSON object on stdout; pytest asserts.
// An adapter: {connect(), subprotocol(), subscribe(query, onEvent) -> unsubscribe,
// execute(query) -> result, close()}, all on one WebSocket.

import { readInput, waitFor } from "./flow-io.mjs";

const EVENT_TIMEOUT_MS = 5000;

async function tutorialFlow({ url, operations }, client) {
  const post = async (query, variables = {}) => {
    const response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ query, variables }),
    });
    return (await response.json()).data;
  };
  const report = { users: [] };
  for (const createUser of operations.createUsers) report.users.push(await post(createUser));

  await client.connect();
  report.subprotocol = client.subprotocol();
  const events = [];
  const unsubscribe = client.subscribe(operations.subscribe, (event) => events.push(event));
  // The server handles one socket's messages in order: once this answers,
  // the subscription is registered.
  report.beforeSending = await client.execute(operations.userId);

  report.sentToSomeoneElse = await post(operations.send, { from: "1", to: "3", content: "not for user two" });
  report.sent = await post(operations.sendHello);
  await waitFor(() => events.length > 0, EVENT_TIMEOUT_MS);
  report.received = events.splice(0);

  unsubscribe();
  report.afterUnsubscribing = await client.execute(operations.userId);
  report.sentAfterUnsubscribing = await post(operations.send, { from: "1", to: "2", content: "after unsubscribing" });
  await client.execute(operations.userId);
  await new Promise((resolve) => setTimeout(resolve, 300));
  report.receivedAfterUnsubscribing = events.splice(0);
  await client.close();
  return report;
}

export async function run(makeClient) {
  const timer = setTimeout(() => {
    console.error("tutorial flow timed out");
    process.exit(2);
  }, 30000);
  const input = await readInput();
  const report = await tutorialFlow(input, makeClient(input.wsUrl));
  clearTimeout(timer);
  process.stdout.write(JSON.stringify(report) + "\n");
}
