// LoRA training jobs. Each runs in the background of the server process (the backend's train stream is consumed
// here, asynchronously), so other tool calls keep answering. A job ends done, cancelled (after its last complete
// checkpoint) or failed.
import { randomUUID } from "node:crypto";
import type { Backend, TrainEvent, TrainRequest } from "@hearth/serving";
import { errorText } from "./errors.js";

type Done = Extract<TrainEvent, { type: "done" }>;
type Progress = Extract<TrainEvent, { type: "progress" }>;

export interface JobSnapshot {
  jobId: string;
  adapter: string;
  status: "running" | "done" | "cancelled" | "failed";
  path?: string;
  iteration: number;
  iters: number;
  trainLoss?: number | null;
  validLoss?: number | null;
  message?: string;
  seconds?: number;
  error?: string;
}

export class TrainingJob {
  readonly id = randomUUID();
  readonly controller = new AbortController();
  status: JobSnapshot["status"] = "running";
  path?: string;
  iteration = 0;
  iters: number;
  trainLoss?: number | null;
  validLoss?: number | null;
  message?: string;
  result?: Done;
  error?: unknown;
  readonly started = Date.now();
  private listeners = new Set<(p: Progress) => void>();
  readonly finished: Promise<void>;
  /** Resolves once the backend accepted the job (model and dataset loaded, "start" seen) or the job ended. */
  readonly accepted: Promise<void>;
  private accept!: () => void;

  constructor(backend: Backend, readonly req: TrainRequest, log: (m: string) => void) {
    this.iters = req.iters ?? 0;
    this.accepted = new Promise((r) => { this.accept = r; });
    this.finished = this.run(backend, log).finally(() => this.accept());
  }

  onProgress(fn: (p: Progress) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  cancel(): void {
    this.controller.abort();
  }

  private async run(backend: Backend, log: (m: string) => void): Promise<void> {
    try {
      for await (const e of backend.train({ ...this.req, signal: this.controller.signal })) {
        if (e.type === "start") {
          this.path = e.path;
          this.iters = e.iters;
          this.accept();
          log(`training ${e.adapter}: ${e.iters} iterations on ${e.trainExamples} examples (${e.validExamples} for validation) → ${e.path}`);
        } else if (e.type === "progress") {
          this.iteration = e.iteration;
          this.iters = e.iters;
          if (e.trainLoss !== undefined) this.trainLoss = e.trainLoss;
          if (e.validLoss !== undefined) this.validLoss = e.validLoss;
          this.message = e.message;
          for (const fn of this.listeners) fn(e);
        } else {
          this.result = e;
          this.path = e.path;
          this.iteration = e.iters;
          this.trainLoss = e.trainLoss;
          this.validLoss = e.validLoss;
          this.status = e.cancelled ? "cancelled" : "done";
        }
      }
      if (!this.result) throw new Error("the training stream ended without a result");
    } catch (e) {
      this.error = e;
      this.status = "failed";
      log(`training ${this.req.name} failed: ${errorText(e)}`);
    }
  }

  snapshot(): JobSnapshot {
    const s: JobSnapshot = { jobId: this.id, adapter: this.req.name, status: this.status, iteration: this.iteration, iters: this.iters };
    if (this.path !== undefined) s.path = this.path;
    if (this.trainLoss !== undefined) s.trainLoss = this.trainLoss;
    if (this.validLoss !== undefined) s.validLoss = this.validLoss;
    if (this.message !== undefined) s.message = this.message;
    s.seconds = this.result ? this.result.seconds : (Date.now() - this.started) / 1000;
    if (this.error !== undefined) s.error = errorText(this.error);
    return s;
  }
}

/** All jobs of this server process (shared by every session, so an HTTP client can follow a job another started). */
export class TrainingJobs {
  private jobs = new Map<string, TrainingJob>();
  constructor(private backend: Backend, private log: (m: string) => void) {}

  start(req: TrainRequest): TrainingJob {
    const job = new TrainingJob(this.backend, req, this.log);
    this.jobs.set(job.id, job);
    return job;
  }

  get(id: string): TrainingJob | undefined {
    return this.jobs.get(id);
  }

  list(): TrainingJob[] {
    return [...this.jobs.values()];
  }

  running(name: string): TrainingJob | undefined {
    return this.list().find((j) => j.status === "running" && j.req.name === name);
  }

  /** Cancels every running job and waits for each to keep its checkpoint (server shutdown). */
  async cancelAll(): Promise<void> {
    const running = this.list().filter((j) => j.status === "running");
    for (const j of running) j.cancel();
    await Promise.all(running.map((j) => j.finished));
  }
}
