"""The graphql-core executor for subscription events, and its wiring into Ariadne's WebSocket handlers.

graphql-core 3.3 runs each subscription event on a copy of the subscription's
executor, and each copy collects the operation's root fields anew. The memo
of collected sub-fields is keyed by the identity of those new field lists and
is shared by all the copies, so it misses on every event and keeps one more
entry each time: every event pays for a full field collection, and a
subscription's memory grows with every message it delivers.
`SubscriptionExecutor` collects the root fields once per subscription and
gives every event the same lists: the memo then hits, and holds one entry per
selection for the subscription's whole life. Nothing else changes; the
fields collected depend only on the document, its variables and the schema,
which are fixed for a subscription.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

from ariadne.asgi.handlers import graphql_transport_ws, graphql_ws
from ariadne.graphql import subscribe
from graphql import ExecutionResult, Executor, GraphQLObjectType
from graphql.execution.collect_fields import DeferUsage, GroupedFieldSet
from graphql.pyutils import AwaitableOrValue


class RequestExecutor(Executor):
    """graphql-core's executor for queries and mutations, leaving no reference cycle behind.

    An executor keeps helpers made of its own bound methods, a cycle that only
    the cyclic garbage collector can free, with everything the request
    touched (its context, variables, collected fields): about twenty objects
    per small query, fifty per `createMessage`. Collecting them costs time on
    every request and, as they pile up between passes, long full passes that
    stall delivery. The response is the executor's last step (the schema has
    no @defer/@stream), so the cycle is broken there and reference counting
    frees the request's objects as soon as it is answered.
    """

    def build_response(self, data: dict[str, Any] | None) -> ExecutionResult:
        response = super().build_response(data)
        del self.async_helpers
        return response


class SubscriptionExecutor(Executor):
    """An executor whose per-event copies share one collection of the operation's root fields."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Shared by the per-event copies (graphql-core makes them with copy.copy).
        self._root_fields: list[GroupedFieldSet] = []

    def execute_collected_root_fields(
        self,
        root_type: GraphQLObjectType,
        root_value: Any,
        grouped_field_set: GroupedFieldSet,
        serially: bool,
        new_defer_usages: Sequence[DeferUsage],
    ) -> AwaitableOrValue[dict[str, Any]]:
        if not self._root_fields:
            self._root_fields.append(grouped_field_set)
        return super().execute_collected_root_fields(
            root_type, root_value, self._root_fields[0], serially, new_defer_usages
        )


def use_subscription_executor() -> None:
    """Make Ariadne's two WebSocket handlers run subscriptions on `SubscriptionExecutor`.

    They call Ariadne's `subscribe` without an executor class, and it passes
    extra keyword arguments on to graphql-core: the module-level name each
    handler calls is pointed at `subscribe` with that one argument added.
    """
    subscribe_with_executor = partial(subscribe, executor_class=SubscriptionExecutor)
    graphql_transport_ws.subscribe = subscribe_with_executor
    graphql_ws.subscribe = subscribe_with_executor
