// rhea against hubgate's AMQP front end: links the gateway must refuse cleanly. Prints the
// error each attach ended with, as JSON.
// Usage: node amqp_rhea_refusals.js PORT HUB
"use strict";
const rhea = require("rhea");

const [port, hub] = process.argv.slice(2);
const connection = rhea.create_container({ id: "rhea-refusals" }).connect({
  host: "127.0.0.1",
  port: Number(port),
  reconnect: false,
});
setTimeout(() => {
  console.error("timed out");
  process.exit(1);
}, 30000).unref();

const cases = [
  // The JS SDK's idempotent producer.
  ["idempotent", () => connection.open_sender({ target: hub, desired_capabilities: "com.microsoft:idempotent-producer" })],
  ["no-such-partition", () => connection.open_sender({ target: `${hub}/Partitions/42` })],
  ["bad-address", () => connection.open_receiver({ source: "a/b" })],
  [
    "bad-filter",
    () =>
      connection.open_receiver({
        source: {
          address: `${hub}/ConsumerGroups/$Default/Partitions/0`,
          filter: {
            "apache.org:selector-filter:string": rhea.types.wrap_described("amqp.annotation.x-opt-offset < '5'", 0x468c00000004),
          },
        },
      }),
  ],
];
const report = {};
let pending = cases.length;
for (const [name, open] of cases) {
  const link = open();
  const done = (ctx) => {
    const error = (ctx.sender || ctx.receiver).error;
    report[name] = error ? { condition: error.condition, description: error.description, info: error.info } : null;
    if (--pending === 0) {
      console.log(JSON.stringify(report));
      connection.close();
    }
  };
  link.on("sender_error", done);
  link.on("receiver_error", done);
}
connection.on("connection_close", () => process.exit(pending === 0 ? 0 : 1));
// Once every refusal is reported, how the connection ends after our Close is not under test
// (the gateway can repeat a refused link's Detach while the session ends, which rhea raises as
// an error); before that, a transport or protocol error fails the script with its cause.
const finish = (what) => (ctx) => {
  if (pending !== 0) console.error(`${what} before every refusal was reported:`, ctx && (ctx.error || ctx));
  process.exit(pending === 0 ? 0 : 1);
};
connection.on("disconnected", finish("disconnected"));
connection.on("error", finish("connection error"));
connection.container.on("error", finish("error"));
