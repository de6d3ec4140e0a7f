// Peer: the JS reference, eventsource-parser + JSON.parse on node: the
// minimal loop a user would otherwise write (decode, parse each payload,
// concatenate the text), as bench/peers/_minimal.py does in Python.
//
// Usage: node minimal.mjs INPUT OUTPUT openai|anthropic|tools
// Writes {"text", "tool_calls"} to OUTPUT and, on stderr, one JSON line
// {"events", "seconds", "cpu"}: the job's own time (wall, and user + system
// CPU), start-up and imports excluded, like the Python peers.
import { createReadStream, writeFileSync } from "node:fs";
import { createParser } from "eventsource-parser";

const [input, output, shape] = process.argv.slice(2);

const text = [];
const args = new Map(); // tool call index -> argument fragments
let events = 0;

const take = {
  openai(data) {
    if (data === "[DONE]") return;
    const chunk = JSON.parse(data);
    const choice = chunk.choices && chunk.choices[0];
    if (choice && choice.delta.content) text.push(choice.delta.content);
  },
  anthropic(data) {
    const payload = JSON.parse(data);
    if (payload.type === "content_block_delta" && payload.delta.type === "text_delta")
      text.push(payload.delta.text);
  },
  tools(data) {
    if (data === "[DONE]") return;
    const chunk = JSON.parse(data);
    const choice = chunk.choices && chunk.choices[0];
    if (!choice) return;
    if (choice.delta.content) text.push(choice.delta.content);
    for (const call of choice.delta.tool_calls || []) {
      if (!args.has(call.index)) args.set(call.index, []);
      args.get(call.index).push(call.function.arguments || "");
    }
  },
}[shape];

const started = process.hrtime.bigint();
const startedCpu = process.cpuUsage();
const parser = createParser({
  onEvent(event) {
    events += 1;
    take(event.data);
  },
});
const stream = createReadStream(input, { highWaterMark: 64 * 1024, encoding: "utf8" });
stream.on("data", (chunk) => parser.feed(chunk));
stream.on("end", () => {
  const toolCalls = [...args].map(([index, parts]) => [index, JSON.parse(parts.join(""))]);
  writeFileSync(output, JSON.stringify({ text: text.join(""), tool_calls: toolCalls }));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const cpu = process.cpuUsage(startedCpu);
  process.stderr.write(
    JSON.stringify({ events, seconds, cpu: (cpu.user + cpu.system) / 1e6 }) + "\n",
  );
});
