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
      receiver.close();
      management();
    }
  });
  receiver.on("receiver_error", (ctx) => fail(`filtered receiver error: ${ctx.receiver.error}`));
}
// A `$management` READ the way the JS SDK sends it: string message-id, `reply_to` naming the
// receiving link's target, replies routed by that address.
function management() {
  const replyTo = `mgmt-reply-${mode}`;
  const replies = connection.open_receiver({ source: "$management", target: replyTo, credit_window: 5 });
  replies.on("receiver_open", () => {
    const requests = connection.open_sender({ target: `${hub}/$management` });
    requests.on("sendable", () => {
      if (report.mgmt_sent) return;
      report.mgmt_sent = true;
      requests.send({
        message_id: "req-1",
        reply_to: replyTo,
        application_properties: { operation: "READ", type: "com.microsoft:partition", name: hub, partition: "0" },
        body: rhea.message.data_section(Buffer.from("[]")),
      });
    });
  });
  replies.on("message", (ctx) => {
    const m = ctx.message;
    report.management = {
      correlation_id: m.correlation_id,
      to: m.to,
      status: m.application_properties["status-code"],
      body: Object.fromEntries(
        Object.entries(m.body).map(([k, v]) => [k, v instanceof Date ? { date: v.getTime() } : v])
      ),
    };
    report.done = true;
    console.log(JSON.stringify(report));
    connection.close();
  });
}

connection.on("connection_close", () => process.exit(report.done ? 0 : 1));
