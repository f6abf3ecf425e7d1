// rhea (npm) against hubgate's AMQP front end: sends to `{hub}/Partitions/0` (SASL PLAIN when a
// user is given, no SASL otherwise), then reads the partition back twice: from the start, and
// with an Event Hubs selector filter using rhea's numeric descriptor. Prints one JSON report.
// Usage: node amqp_rhea.js PORT HUB sasl|plain
"use strict";
const rhea = require("rhea");

const [port, hub, mode] = process.argv.slice(2);
const COUNT = 4;
const container = rhea.create_container({ id: `rhea-${mode}` });
const options = { host: "127.0.0.1", port: Number(port), reconnect: false };
if (mode === "sasl") {
  options.username = "RootManageSharedAccessKey";
  options.password = "c2VjcmV0";
}

function fail(why) {
  console.error(why);
  process.exit(1);
}
setTimeout(() => fail("timed out"), 30000).unref();

const report = { sent: 0, all: [], filtered: [] };

function plain(message) {
  const ann = message.message_annotations || {};
  const body = Buffer.isBuffer(message.body)
    ? { hex: message.body.toString("hex") }
    : message.body && message.body.typecode === 0x75
      ? { hex: Buffer.from(message.body.content).toString("hex") }
      : message.body;
  return {
    body,
    properties: message.application_properties || {},
    message_id: message.message_id,
    subject: message.subject,
    sequence_number: ann["x-opt-sequence-number"],
    offset: ann["x-opt-offset"],
    enqueued_time: ann["x-opt-enqueued-time"] instanceof Date ? ann["x-opt-enqueued-time"].getTime() : ann["x-opt-enqueued-time"],
    partition_key: ann["x-opt-partition-key"],
  };
}

const connection = container.connect(options);
connection.on("connection_error", (ctx) => fail(`connection error: ${ctx.connection.error}`));
connection.on("disconnected", (ctx) => {
  if (!report.done) fail(`disconnected: ${ctx.error}`);
});

const sender = connection.open_sender(`${hub}/Partitions/0`);
sender.on("sendable", () => {
  while (sender.sendable() && report.sent < COUNT) {
    const i = report.sent++;
    sender.send({
      message_id: `rhea-${i}`,
      subject: `subject-${i}`,
      application_properties: { n: i, text: `t-${i}`, flag: i % 2 === 0 },
      body: i % 2 === 0 ? `string-body-${i}` : rhea.message.data_section(Buffer.from([i, 0xff, 0x00])),
    });
  }
});
let accepted = 0;
sender.on("accepted", () => {
  accepted += 1;
  if (accepted === COUNT) readAll();
});
sender.on("rejected", (ctx) => fail(`rejected: ${JSON.stringify(ctx.delivery.remote_state)}`));
sender.on("sender_error", (ctx) => fail(`sender error: ${ctx.sender.error}`));

function readAll() {
  const receiver = connection.open_receiver({ source: `${hub}/Partitions/0`, credit_window: 10 });
  receiver.on("message", (ctx) => {
    report.all.push(plain(ctx.message));
    if (report.all.length === COUNT) {
      receiver.close();
      readFiltered();
    }
  });
  receiver.on("receiver_error", (ctx) => fail(`receiver error: ${ctx.receiver.error}`));
}

function readFiltered() {
  const filter = {
    "apache.org:selector-filter:string": rhea.types.wrap_described(
      "amqp.annotation.x-opt-offset > '1'",
      0x468c00000004
    ),
  };
  const receiver = connection.open_receiver({
    source: { address: `${hub}/ConsumerGroups/$Default/Partitions/0`, filter },
    credit_window: 10,
  });
  receiver.on("message", (ctx) => {
    report.filtered.push(plain(ctx.message));
    if (report.filtered.length === COUNT - 2) {
      report.done = true;
      console.log(JSON.stringify(report));
      connection.close();
    }
  });
  receiver.on("receiver_error", (ctx) => fail(`filtered receiver error: ${ctx.receiver.error}`));
}
connection.on("connection_close", () => process.exit(report.done ? 0 : 1));
