# Worker image for the cluster deployment (k8s/). Also runs the synthetic trainer
# (sim/trainer), so the same image can serve a dry-run sweep's GPU Jobs.
#   docker build -t registry.example.com/you/scaling-sweep-worker:0.1.0 .

FROM node:20-slim AS deps
WORKDIR /app
# Toolchain only for the rare case a native module (better-sqlite3) has no prebuilt binary;
# it stays in this stage and never reaches the runtime image.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
# Full install, not --omit=dev: the code runs as TypeScript through tsx at runtime.
RUN npm ci --no-audit --no-fund && npm cache clean --force

FROM node:20-slim
ENV NODE_ENV=production \
    HOME=/tmp \
    TEMPORAL_TASK_QUEUE=scaling-sweeps \
    SWEEP_EXECUTOR=kubernetes
WORKDIR /app
# Fixed numeric UID/GID so Kubernetes' runAsNonRoot can verify the user without a lookup.
RUN groupadd --system --gid 10001 sweep \
 && useradd --system --uid 10001 --gid sweep --home-dir /tmp --shell /usr/sbin/nologin sweep
COPY --from=deps /app/node_modules ./node_modules
COPY . .
# Sources stay root-owned and read-only to the worker. Writable: .sweep/ (workflow bundle
# cache) and out/ (reports); on k8s both are emptyDirs under a read-only root filesystem.
RUN mkdir -p /app/.sweep /app/out && chown sweep:sweep /app/.sweep /app/out
USER 10001:10001
# The worker's /livez and /readyz when SWEEP_HEALTH_PORT=8080 (k8s/base/deployment.yaml sets it).
# Training Jobs run as this same UID (jobBuilder.ts JOB_UID), so this image can serve a dry run.
EXPOSE 8080
# Node as PID 1 is fine here: the Temporal worker installs its own SIGTERM handler for graceful shutdown.
CMD ["node", "bin/sweep.js", "worker"]
