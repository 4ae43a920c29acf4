// The tutorial flow with Apollo Client 4 in Node.js (npm alias `@apollo/client-4`; users
// import "@apollo/client"), wired as its docs say: HttpLink for queries and mutations,
// GraphQLWsLink over the `graphql-ws` client for subscriptions, chosen by `ApolloLink.split`
// on the operation's type. Its observables are rxjs ones; like 3.x it adds `__typename`.
import {
  ApolloClient,
  ApolloLink,
  CombinedGraphQLErrors,
  HttpLink,
  InMemoryCache,
  ServerError,
  gql,
} from "@apollo/client-4";
import { GraphQLWsLink } from "@apollo/client-4/link/subscriptions";
import { OperationTypeNode } from "graphql";
import { createClient } from "graphql-ws";
import WebSocket from "ws";

import { apolloAdapter } from "./apollo-adapter.mjs";
import { run } from "./tutorial-flow.mjs";

function apolloClient4({ url, wsUrl }) {
  const wsClient = createClient({ url: wsUrl, webSocketImpl: WebSocket, retryAttempts: 0 });
  const client = new ApolloClient({
    cache: new InMemoryCache(),
    link: ApolloLink.split(
      (operation) =>
        operation.operationType === OperationTypeNode.SUBSCRIPTION || operation.getContext().overWebSocket === true,
      new GraphQLWsLink(wsClient),
      new HttpLink({ uri: url }),
    ),
  });
  // 4.x has one `error` where 3.x had `errors` and ApolloError: CombinedGraphQLErrors for
  // GraphQL errors, ServerError for a failed request, with the body as text in `bodyText`.
  const describe = (error) => ({
    name: error.name,
    message: error.message,
    errors: CombinedGraphQLErrors.is(error) ? error.errors.map(({ message }) => message) : undefined,
    serverErrors: ServerError.is(error) ? JSON.parse(error.bodyText).errors?.map(({ message }) => message) : undefined,
  });
  return apolloAdapter({
    client,
    gql,
    wsClient,
    result: ({ data, error }) => ({ data, error: error && describe(error) }),
    failure: (error) => ({ clientError: describe(error) }),
  });
}

await run(apolloClient4);
