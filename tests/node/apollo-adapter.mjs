// The flow's interface (tutorial-flow.mjs) over an Apollo Client, 3.x or 4.x: both take
// the same query, mutate and subscribe options; each version's script builds its client
// and says how its results and rejections read (`result`, `failure`).
export function apolloAdapter({ client, gql, wsClient, result, failure }) {
  const settle = (promise) => promise.then(result, failure);
  return {
    query: (query, variables) => settle(client.query({ query: gql(query), variables, fetchPolicy: "no-cache" })),
    queryOverWebSocket: (query) =>
      settle(client.query({ query: gql(query), fetchPolicy: "no-cache", context: { overWebSocket: true } })),
    mutate: (mutation, variables) => settle(client.mutate({ mutation: gql(mutation), variables })),
    subscribe: (query, onEvent) => {
      const subscription = client.subscribe({ query: gql(query), fetchPolicy: "no-cache" }).subscribe({
        next: (event) => onEvent(result(event)),
        error: (error) => onEvent(failure(error)),
      });
      return () => subscription.unsubscribe();
    },
    close: async () => {
      client.stop();
      await wsClient.dispose();
    },
  };
}
