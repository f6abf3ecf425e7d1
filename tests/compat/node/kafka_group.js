// kafkajs 2.2.4 consumer groups against hubgate: two consumers of one group share a topic,
// consume every record once and commit; then the admin client reads the group's offsets,
// describes, lists and deletes the group. Prints what happened as JSON.
// Usage: node kafka_group.js BOOTSTRAP TOPIC GROUP PARTITIONS RECORDS
const { Kafka, logLevel } = require("kafkajs");

async function main() {
  const [bootstrap, topic, groupId, partitionsArg, recordsArg] = process.argv.slice(2);
  const partitions = Number(partitionsArg);
  const records = Number(recordsArg);
  const kafka = new Kafka({ clientId: "hubgate-compat", brokers: [bootstrap], logLevel: logLevel.ERROR });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: partitions }], waitForLeaders: true });

  const received = [];
  const assignments = {};
  const consumers = [0, 1].map((i) => {
    const consumer = kafka.consumer({ groupId, sessionTimeout: 10000, heartbeatInterval: 500 });
    consumer.on(consumer.events.GROUP_JOIN, (e) => {
      assignments[i] = (e.payload.memberAssignment[topic] || []).slice().sort();
    });
    return consumer;
  });
  for (const [i, consumer] of consumers.entries()) {
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        received.push({ member: i, partition, offset: message.offset, value: message.value.toString() });
      },
    });
  }
  // Both members are in the group (each with partitions) before anything is produced.
  const deadline = Date.now() + 60000;
  const settled = () => Object.keys(assignments).length === 2
    && Object.values(assignments).every((a) => a.length > 0)
    && Object.values(assignments).flat().length === partitions;
  while (!settled() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  const settledAssignments = JSON.parse(JSON.stringify(assignments));

  const producer = kafka.producer();
  await producer.connect();
  const messages = [];
  for (let i = 0; i < records; i++) messages.push({ partition: i % partitions, value: `kjs-${i}` });
  await producer.send({ topic, acks: -1, messages });
  await producer.disconnect();
  while (received.length < records && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  const described = await admin.describeGroups([groupId]);
  for (const consumer of consumers) await consumer.disconnect();

  const offsets = await admin.fetchOffsets({ groupId, topics: [topic] });
  const listed = await admin.listGroups();
  let deleted;
  try {
    deleted = await admin.deleteGroups([groupId]);
  } catch (e) {
    deleted = { error: String(e) };
  }
  const afterDelete = await admin.fetchOffsets({ groupId, topics: [topic] });
  await admin.disconnect();
  console.log(JSON.stringify({
    assignments: settledAssignments,
    received,
    described,
    offsets,
    listed,
    deleted,
    afterDelete,
  }));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
