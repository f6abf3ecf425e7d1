"""Delivery annotations and sequence-number start positions with azure-eventhub 5.15.1.

Event Hubs keeps a producer's delivery annotations on the stored event and returns them to
readers, next to the broker's runtime metrics; a Kafka reader sees them as one AMQP-encoded
header (docs/MAPPING.md). A reader started at a sequence number gets that event first when
the start is inclusive, and the next one when it is not.
"""

from azure.eventhub import EventData, EventHubProducerClient
from azure.eventhub.amqp import AmqpAnnotatedMessage

from kafka_support import confluent_consume
from test_amqp_eventhub import conn_str, receive

DELIVERY_ANNOTATIONS_HEADER = "x-amqp-delivery-annotations"


def test_delivery_annotations_are_stored_and_returned(gateway, hub_name):
    message = AmqpAnnotatedMessage(
        data_body=b"annotated",
        delivery_annotations={"delann_key": "delann_value"},
        annotations={"ann_key": "ann_value"},
    )
    with EventHubProducerClient.from_connection_string(conn_str(gateway, hub_name)) as producer:
        producer.send_event(message, partition_id="0")

    for track in (False, True):
        events, contexts, errors = receive(
            gateway, hub_name, 0, 1, starting_position="-1", track_last_enqueued_event_properties=track
        )
        assert not errors, errors
        assert len(events) == 1
        raw = events[0].raw_amqp_message
        assert raw.delivery_annotations[b"delann_key"] == b"delann_value"
        assert raw.annotations[b"ann_key"] == b"ann_value"
        assert b"".join(raw.body) == b"annotated"
        if track:
            # The runtime metrics ride in the same section, added to the stored annotations.
            assert raw.delivery_annotations[b"last_enqueued_sequence_number"] == 0
            assert contexts[0]["sequence_number"] == 0
        else:
            assert b"last_enqueued_sequence_number" not in raw.delivery_annotations

    (record,) = confluent_consume(gateway.kafka, hub_name, 0, 0, 1)
    headers = dict(record.headers())
    assert record.value() == b"annotated"
    assert headers[DELIVERY_ANNOTATIONS_HEADER] == (
        b"\x00\x53\x71\xc1\x1b\x02\xa3\x0adelann_key\xa1\x0cdelann_value"
    )


def test_sequence_number_start_inclusive_and_exclusive(gateway, hub_name):
    with EventHubProducerClient.from_connection_string(conn_str(gateway, hub_name)) as producer:
        batch = producer.create_batch(partition_id="0")
        for i in range(3):
            batch.add(EventData(f"event-{i}"))
        producer.send_batch(batch)

    for inclusive, first in ((True, 1), (False, 2)):
        events, _, errors = receive(
            gateway, hub_name, 0, 3 - first, starting_position=1, starting_position_inclusive=inclusive
        )
        assert not errors, errors
        assert [e.sequence_number for e in events] == list(range(first, 3)), inclusive
        assert events[0].body_as_str() == f"event-{first}"
