// @azure/event-hubs (npm) over AMQP over WebSocket (`ws` package) against hubgate's HTTPS
// listener: sends a batch to partition 0, then reads the partition from the start. The CA that
// signed the gateway's certificate comes from NODE_EXTRA_CA_CERTS. Prints one JSON report.
// Usage: node amqp_eventhubs_ws.js CONNECTION_STRING HTTPS_PORT TAG
"use strict";
const { EventHubProducerClient, EventHubConsumerClient, earliestEventPosition } = require("@azure/event-hubs");
const WebSocket = require("ws");

const [connectionString, port, tag] = process.argv.slice(2);
const COUNT = 3;
const options = {
  webSocketOptions: { webSocket: WebSocket },
  // The SDK dials 443 for WebSockets; the custom endpoint names the HTTPS listener's port.
  customEndpointAddress: `https://localhost:${port}`,
  retryOptions: { maxRetries: 0 },
};

function fail(why) {
  console.error(why);
  process.exit(1);
}
setTimeout(() => fail("timed out"), 60000).unref();

async function main() {
  const producer = new EventHubProducerClient(connectionString, options);
  const partitionIds = await producer.getPartitionIds();
  const batch = await producer.createBatch({ partitionId: "0" });
  for (let i = 0; i < COUNT; i++) {
    if (!batch.tryAdd({ body: `${tag}-${i}`, properties: { n: i } })) fail("batch full");
  }
  await producer.sendBatch(batch);
  await producer.close();

  const consumer = new EventHubConsumerClient("$Default", connectionString, options);
  const received = [];
  await new Promise((resolve, reject) => {
    const subscription = consumer.subscribe(
      "0",
      {
        processEvents: async (events) => {
          for (const e of events) {
            if (String(e.body).startsWith(tag)) {
              received.push({ body: e.body, n: e.properties && e.properties.n, seq: e.sequenceNumber });
            }
          }
          if (received.length >= COUNT) subscription.close().then(resolve, reject);
        },
        processError: async (error) => reject(error),
      },
      { startPosition: earliestEventPosition, maxWaitTimeInSeconds: 1 },
    );
  });
  await consumer.close();
  console.log(JSON.stringify({ partitionIds, received }));
}

main().catch((e) => fail(e && e.stack ? e.stack : String(e)));
