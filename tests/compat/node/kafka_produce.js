// kafkajs 2.2.4 (pre-flexible protocol versions: Produce v7, Metadata v6, ApiVersions v2)
// against hubgate: creates a topic, sends records with headers and explicit timestamps (gzip),
// reads the offsets back with the admin client, and prints what it did as JSON.
// Usage: node kafka_produce.js BOOTSTRAP TOPIC BASE_TIMESTAMP
const { Kafka, CompressionTypes, logLevel } = require("kafkajs");

async function main() {
  const [bootstrap, topic, baseTs] = process.argv.slice(2);
  const kafka = new Kafka({ clientId: "hubgate-compat", brokers: [bootstrap], logLevel: logLevel.ERROR });
  const admin = kafka.admin();
  await admin.connect();
  const created = await admin.createTopics({ topics: [{ topic, numPartitions: 2 }], waitForLeaders: true });
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  const messages = [];
  for (let i = 0; i < 10; i++) {
    messages.push({
      partition: 1,
      key: `kjs-key-${i}`,
      value: `kjs-value-${i}`.repeat(10),
      headers: { source: "kafkajs", index: String(i) },
      timestamp: String(Number(baseTs) + i * 1000),
    });
  }
  const first = await producer.send({ topic, compression: CompressionTypes.GZIP, acks: -1, messages: messages.slice(0, 5) });
  const second = await producer.send({ topic, acks: -1, messages: messages.slice(5) });
  const offsets = await admin.fetchTopicOffsets(topic);
  const byTime = await admin.fetchTopicOffsetsByTimestamp(topic, Number(baseTs) + 3000);
  const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
  await producer.disconnect();
  await admin.disconnect();
  console.log(JSON.stringify({ created, first, second, offsets, byTime, metadata }));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
