"""The in-process broker used when no PARSEQ_BROKER_URL is set.

Each process has its own copy. Only a process that consumes (the worker) keeps
messages; elsewhere a send is dropped, which loses nothing: the run is already
recorded as ``queued`` and the worker's LocalRelay feeds it from the database.
"""

from __future__ import annotations

from dramatiq.brokers.stub import StubBroker
from dramatiq.message import Message


class LocalBroker(StubBroker):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.consuming = False

    def consume(self, queue_name: str, prefetch: int = 1, timeout: int = 100):
        self.consuming = True
        return super().consume(queue_name, prefetch, timeout)

    def enqueue(self, message: Message, *, delay: int | None = None) -> Message:
        if not self.consuming:
            return message
        if message.queue_name not in self.queues:
            self.declare_queue(message.queue_name)
        return super().enqueue(message, delay=delay)
