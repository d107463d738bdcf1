"""Run priority on RabbitMQ (PARSEQ_BROKER_MAX_PRIORITY): queues declared with
x-max-priority, and a backlog delivered highest priority first."""

from __future__ import annotations

import pytest
from dramatiq.brokers.rabbitmq import RabbitmqBroker

from scripts_app import conf
from scripts_app.runs import sending


@pytest.mark.parametrize(
    ("priority", "level"), [(-100, 0), (-20, 4), (0, 5), (10, 6), (50, 8), (100, 10)]
)
def test_a_task_priority_maps_onto_rabbitmqs_levels_with_the_default_in_the_middle(
    settings, priority, level
):
    settings.PARSEQ_BROKER_MAX_PRIORITY = 10
    assert sending.message(7, "default", priority).options == {"broker_priority": level}


def test_without_levels_a_message_carries_no_priority(settings):
    settings.PARSEQ_BROKER_MAX_PRIORITY = 0
    assert sending.message(7, "default", 50).options == {}


def test_the_broker_setting_declares_priority_queues_only_when_asked(monkeypatch):
    url = "amqp://guest:guest@127.0.0.1:5672/%2F"
    assert "max_priority" not in conf.dramatiq_broker(url)["OPTIONS"]
    monkeypatch.setenv("PARSEQ_BROKER_MAX_PRIORITY", "10")
    assert conf.dramatiq_broker(url)["OPTIONS"]["max_priority"] == 10


def test_rabbitmq_delivers_a_backlog_highest_priority_first(rabbitmq, settings):
    settings.PARSEQ_BROKER_MAX_PRIORITY = 10
    broker = RabbitmqBroker(url=rabbitmq.url, max_priority=10, confirm_delivery=True)
    queue = "priority-test"
    try:
        broker.declare_queue(queue)
        for execution_id, priority in [(1, -20), (2, 0), (3, 50), (4, 0)]:
            broker.enqueue(sending.message(execution_id, queue, priority))
        consumer = broker.consume(queue, prefetch=1, timeout=2000)
        delivered = []
        for message in consumer:
            if message is None:
                break
            delivered.append(message.args[0])
            consumer.ack(message)
            if len(delivered) == 4:
                break
        consumer.close()
    finally:
        broker.close()
    assert delivered == [3, 2, 4, 1]
