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
      // rhea answers this Detach on the next tick; closing now would send our Close before
      // that answer, and frames after a Close are a protocol error.
      setImmediate(() => connection.close());
    }
  };
  link.on("sender_error", done);
  link.on("receiver_error", done);
}
// The script passes only when the gateway answers our Close after every refusal was reported.
// Any error, at any time, fails it: a repeated Detach for a refused link's handle is a protocol
// error rhea raises while the connection closes, after the report is printed.
const fail = (what) => (ctx) => {
  console.error(`${what} (${pending} refusals not yet reported):`, ctx && (ctx.error || ctx));
  process.exit(1);
};
connection.on("connection_close", () => process.exit(pending === 0 ? 0 : 1));
connection.on("disconnected", fail("disconnected without the gateway's Close"));
connection.on("protocol_error", fail("protocol error"));
connection.on("error", fail("connection error"));
connection.container.on("error", fail("error"));
