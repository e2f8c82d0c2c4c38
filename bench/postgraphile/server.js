// PostGraphile v4 over the bench's PostgreSQL database: the baseline of case 2.
//
//   DATABASE_URL=postgres://... PORT=5678 WORKERS=2 node server.js
//
// One HTTP server per worker process (node's cluster module), so that PostGraphile gets
// all cores, as our server does with `uvicorn --workers 2`. Listens on 127.0.0.1 only.
"use strict";

const cluster = require("node:cluster");
const http = require("node:http");
const { postgraphile } = require("postgraphile");
const PgSimplifyInflectorPlugin = require("@graphile-contrib/pg-simplify-inflector");

const databaseUrl = process.env.DATABASE_URL;
const port = Number(process.env.PORT || 5678);
const workers = Number(process.env.WORKERS || 2);

if (!databaseUrl) {
  console.error("DATABASE_URL is required");
  process.exit(2);
}

if (cluster.isPrimary && workers > 1) {
  for (let i = 0; i < workers; i += 1) cluster.fork();
  cluster.on("exit", (worker, code) => {
    console.error(`postgraphile worker ${worker.process.pid} exited (${code})`);
  });
  const stop = () => {
    for (const id in cluster.workers) cluster.workers[id].kill();
    process.exit(0);
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
} else {
  const middleware = postgraphile(databaseUrl, "public", {
    appendPlugins: [PgSimplifyInflectorPlugin],
    graphiql: false,
    disableQueryLog: true,
    retryOnInitFail: false,
    dynamicJson: true,
    setofFunctionsContainNulls: false,
    ignoreRBAC: true,
    legacyRelations: "omit",
    watchPg: false,
  });
  http.createServer(middleware).listen(port, "127.0.0.1");
}
