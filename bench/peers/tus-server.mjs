// The peer for bench/upload: the official Node tus server with its file store.
// Usage: node tus-server.mjs PORT DIRECTORY
import { Server } from "@tus/server";
import { FileStore } from "@tus/file-store";

const port = Number(process.argv[2] || 8111);
const directory = process.argv[3] || "./tus-files";
const server = new Server({ path: "/files", datastore: new FileStore({ directory }) });
server.listen({ host: "127.0.0.1", port });
console.log(`tus peer listening on 127.0.0.1:${port}`);
