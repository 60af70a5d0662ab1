// The demo page: starts the engine worker, asks hearth-tiny a question, shows the answer and the backend.
const threads = Math.max(1, Math.min(4, navigator.hardwareConcurrency || 1));
const $ = (id: string) => document.getElementById(id)!;
const worker = new Worker(new URL("./worker.js", import.meta.url));
const base = new URL("../../", import.meta.url).href; // web/dist/ -> the engine package root
const files = ["config.json", "generation_config.json", "model.safetensors", "tokenizer.json.gz", "tokenizer_config.json.gz", "chat_template.jinja"];

function ask(): void {
  const prompt = ($("prompt") as HTMLInputElement).value;
  $("answer").textContent = "";
  $("status").textContent = "generating";
  worker.postMessage({ type: "generate", prompt, maxTokens: 32 });
}

worker.onmessage = (ev: MessageEvent) => {
  const m = ev.data;
  if (m.type === "ready") {
    $("backend").textContent = JSON.stringify(m.info);
    $("status").textContent = `ready (loaded in ${Math.round(m.loadMs)} ms)`;
    document.body.dataset.backend = JSON.stringify(m.info);
    ask();
  } else if (m.type === "token") {
    $("answer").textContent += m.text;
  } else if (m.type === "done") {
    $("answer").textContent = m.text;
    $("status").textContent = `done (${m.generationTps?.toFixed?.(1)} tok/s)`;
    document.body.dataset.answer = m.text;
    document.body.dataset.stats = JSON.stringify(m);
  } else if (m.type === "error") {
    $("status").textContent = `error: ${m.message}`;
    document.body.dataset.error = m.message;
  }
};
$("ask").addEventListener("click", ask);
worker.postMessage({ type: "init", base, model: "hearth-tiny", files, threads });
