// inpaintkit serve: the page. Paint a hole over a photo, fill it on the server, compare, download.
// Plain JavaScript, no build step, no third-party code.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const MAX_COMPARE = 3;

  const state = {
    file: null, stem: "result", info: null,
    photo: null,            // ImageBitmap of the server's 8-bit preview (EXIF applied)
    small: null,            // display copies of photo and mask for large photos
    alphaHole: null,        // canvas: red where the photo is fully transparent
    mask: null,             // canvas at photo size: red where painted
    maskCtx: null,
    ops: [], redo: [],      // strokes and clears, replayed for undo
    stroke: null, tool: "brush", size: 40,
    view: { scale: 1, cx: 0, cy: 0 },   // CSS pixels per image pixel; image point at the centre
    pointer: null, panning: null, spaceDown: false,
    methods: [], formValues: {},
    results: [], current: null, job: null, mode: "paint", split: 0.5,
    stats: { pointerEvents: 0, strokes: 0, frames: 0, frameMs: 0, firstPaintMs: null },
  };
  window.inpaintkit = state;  // for tests and curious users

  // ---------- small helpers ----------
  const show = (el, on = true) => { el.hidden = !on; };
  const fmtSeconds = (s) => (s < 10 ? s.toFixed(1) : Math.round(s)) + " s";
  async function errorText(response) {
    try { const body = await response.json(); return body.detail || JSON.stringify(body); }
    catch { return `HTTP ${response.status}`; }
  }
  function setError(el, text) {
    el.textContent = text || ""; show(el, !!text);
    if (text) el.scrollIntoView({ block: "nearest" });
  }

  // ---------- opening a photo ----------
  async function openFile(file) {
    if (!file) return;
    $("file-info").textContent = `Opening ${file.name}…`;
    const form = new FormData();
    form.append("image", file, file.name);
    let response;
    try { response = await fetch("/api/preview", { method: "POST", body: form }); }
    catch (err) { $("file-info").textContent = `Cannot reach the server: ${err}`; return; }
    if (!response.ok) {
      $("file-info").textContent = `Cannot open ${file.name}: ${await errorText(response)}`;
      $("file-info").classList.add("error");
      return;
    }
    $("file-info").classList.remove("error");
    const header = (k) => response.headers.get(`X-Inpaintkit-${k}`);
    const info = { width: +header("Width"), height: +header("Height"), dtype: header("Dtype"),
                   channels: +header("Channels"), transparent: +header("Transparent") };
    const photo = await createImageBitmap(await response.blob(),
                                          { premultiplyAlpha: "none", colorSpaceConversion: "none" });
    for (const r of state.results) forgetResult(r);
    Object.assign(state, { file, info, photo, stem: file.name.replace(/\.[^.]*$/, "") || "result",
                           ops: [], redo: [], results: [], current: null });
    state.mask = document.createElement("canvas");
    state.mask.width = info.width; state.mask.height = info.height;
    state.maskCtx = state.mask.getContext("2d");
    state.alphaHole = info.transparent > 0 ? buildAlphaHole(photo) : null;
    state.small = await buildSmall(photo, state.alphaHole);
    const bits = info.dtype === "uint16" ? "16-bit" : info.dtype.startsWith("float") ? "float" : "8-bit";
    const layout = { 1: "gray", 3: "RGB", 4: "RGBA" }[info.channels] || `${info.channels} channels`;
    $("file-info").textContent = `${file.name} · ${info.width}×${info.height} · ${bits} ${layout}`;
    show($("alpha-row"), !!state.alphaHole);
    $("alpha-count").textContent = state.alphaHole ? `(${info.transparent.toLocaleString()} px)` : "";
    show($("dropzone"), false);
    if (!state.job) { show($("progress-box"), false); setError($("run-error"), ""); }
    show($("view-tabs"), true);
    show($("stage-hint"), true);
    renderResults();
    fitView();
    setMode("paint");
    updateButtons();
  }

  // Large photos get a display copy (longer side SMALL_SIDE) for zoomed-out views, with a
  // mask copy painted alongside: each frame then draws a few megapixels, not twelve.
  const SMALL_SIDE = 2048;
  async function buildSmall(photo, alphaHole) {
    const scale = SMALL_SIDE / Math.max(photo.width, photo.height);
    if (scale >= 1) return null;
    const w = Math.round(photo.width * scale), h = Math.round(photo.height * scale);
    const small = await createImageBitmap(photo, { resizeWidth: w, resizeHeight: h, resizeQuality: "high" });
    const mask = document.createElement("canvas");
    mask.width = w; mask.height = h;
    let alpha = null;
    if (alphaHole) {
      alpha = document.createElement("canvas"); alpha.width = w; alpha.height = h;
      alpha.getContext("2d").drawImage(alphaHole, 0, 0, w, h);
    }
    return { scale, photo: small, mask, ctx: mask.getContext("2d"), alpha };
  }
  function onMasks(draw, only = null) {   // draw(ctx) in image coordinates on both masks
    if (only !== "small") draw(state.maskCtx);
    if (state.small && only !== "full") {
      const ctx = state.small.ctx;
      ctx.save(); ctx.setTransform(state.small.scale, 0, 0, state.small.scale, 0, 0);
      draw(ctx); ctx.restore();
    }
  }
  function buildAlphaHole(photo) {
    const canvas = document.createElement("canvas");
    canvas.width = photo.width; canvas.height = photo.height;
    const ctx = canvas.getContext("2d", { willReadFrequently: true });
    ctx.drawImage(photo, 0, 0);
    const data = ctx.getImageData(0, 0, canvas.width, canvas.height);
    const px = data.data;
    for (let i = 0; i < px.length; i += 4) {
      const hole = px[i + 3] === 0;
      px[i] = 255; px[i + 1] = 40; px[i + 2] = 40; px[i + 3] = hole ? 255 : 0;
    }
    ctx.putImageData(data, 0, 0);
    return canvas;
  }

  // ---------- the mask: strokes replayed from a list, so undo costs no pixel copies ----------
  function strokeStyle(ctx, op) {
    ctx.globalCompositeOperation = op.mode === "eraser" ? "destination-out" : "source-over";
    ctx.strokeStyle = ctx.fillStyle = "rgb(255,40,40)";
    ctx.lineWidth = op.size; ctx.lineCap = "round"; ctx.lineJoin = "round";
  }
  function drawDot(ctx, op, x, y) {
    strokeStyle(ctx, op);
    ctx.beginPath(); ctx.arc(x, y, op.size / 2, 0, Math.PI * 2); ctx.fill();
  }
  function liveMask() {   // which mask the paint view shows now (null: there is only one)
    if (!state.small) return null;
    return useSmall(state.view.scale, window.devicePixelRatio || 1) ? "small" : "full";
  }
  function drawOp(ctx, op) {
    const p = op.points;
    drawDot(ctx, op, p[0], p[1]);
    if (p.length > 2) {
      strokeStyle(ctx, op);
      ctx.beginPath(); ctx.moveTo(p[0], p[1]);
      for (let i = 2; i < p.length; i += 2) ctx.lineTo(p[i], p[i + 1]);
      ctx.stroke();
    }
  }
  function replay() {
    let start = 0;
    state.ops.forEach((op, i) => { if (op.mode === "clear") start = i + 1; });
    onMasks((ctx) => {
      ctx.globalCompositeOperation = "source-over";
      ctx.clearRect(0, 0, state.info.width, state.info.height);
      for (const op of state.ops.slice(start)) drawOp(ctx, op);
      ctx.globalCompositeOperation = "source-over";
    });
  }
  function hasPaint() {
    let painted = false;
    for (const op of state.ops) {
      if (op.mode === "clear") painted = false;
      else if (op.mode === "brush") painted = true;
    }
    return painted;
  }
  function useAlpha() { return !!state.alphaHole && $("alpha-hole").checked; }
  function holeFraction() {
    // Counted on a small copy: cheap enough to run after every stroke on a 12 MP photo.
    const w = Math.max(1, Math.min(256, state.info.width)), h = Math.max(1, Math.round(w * state.info.height / state.info.width));
    const c = document.createElement("canvas"); c.width = w; c.height = h;
    const ctx = c.getContext("2d", { willReadFrequently: true });
    if (useAlpha()) ctx.drawImage(state.alphaHole, 0, 0, w, h);
    ctx.drawImage(state.mask, 0, 0, w, h);
    const px = ctx.getImageData(0, 0, w, h).data;
    let n = 0;
    for (let i = 3; i < px.length; i += 4) if (px[i] >= 128) n++;
    return n / (w * h);
  }
  function maskBlob() {
    const c = document.createElement("canvas");
    c.width = state.info.width; c.height = state.info.height;
    const ctx = c.getContext("2d");
    if (useAlpha()) ctx.drawImage(state.alphaHole, 0, 0);
    ctx.drawImage(state.mask, 0, 0);
    return new Promise((resolve) => c.toBlob(resolve, "image/png"));
  }
  function pushOp(op) { state.ops.push(op); state.redo = []; maskChanged(); }
  function undo() { if (state.ops.length) { state.redo.push(state.ops.pop()); replay(); maskChanged(); } }
  function redo() { if (state.redo.length) { state.ops.push(state.redo.pop()); replay(); maskChanged(); } }
  function clearMask() { if (hasPaint()) { pushOp({ mode: "clear", size: 0, points: [] }); replay(); } }
  function maskChanged() {
    const f = holeFraction();
    $("mask-info").textContent = f > 0 ? `Hole: ${(100 * f).toFixed(f < 0.01 ? 2 : 1)} % of the photo` : "";
    updateButtons(); schedule();
  }

  // ---------- view: zoom and pan shared by all three views ----------
  const stage = $("stage");
  function stageSize() { return { w: stage.clientWidth, h: stage.clientHeight }; }
  function fitScale(w, h) {
    if (!state.info) return 1;
    return Math.min(w / state.info.width, h / state.info.height) * 0.96;
  }
  function fitView() {
    const { w, h } = stageSize();
    state.view = { scale: fitScale(w, h), cx: state.info.width / 2, cy: state.info.height / 2 };
    schedule();
  }
  function actualPixels() { state.view.scale = 1 / (window.devicePixelRatio || 1); schedule(); }
  function zoomAt(factor, sx, sy, w, h) {
    const v = state.view;
    const limit = fitScale(w, h);
    const scale = Math.min(32, Math.max(Math.min(limit, 0.01) * 0.5, v.scale * factor));
    // keep the image point under the cursor in place
    const ix = v.cx + (sx - w / 2) / v.scale, iy = v.cy + (sy - h / 2) / v.scale;
    v.cx = ix - (sx - w / 2) / scale; v.cy = iy - (sy - h / 2) / scale; v.scale = scale;
    schedule();
  }
  function toImage(canvas, clientX, clientY) {
    const r = canvas.getBoundingClientRect(), v = state.view;
    return { x: v.cx + (clientX - r.left - r.width / 2) / v.scale,
             y: v.cy + (clientY - r.top - r.height / 2) / v.scale };
  }
  function prepareCanvas(canvas) {
    const dpr = window.devicePixelRatio || 1;
    const w = canvas.clientWidth, h = canvas.clientHeight;
    if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
      canvas.width = Math.round(w * dpr); canvas.height = Math.round(h * dpr);
    }
    const ctx = canvas.getContext("2d");
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.fillStyle = "#151618"; ctx.fillRect(0, 0, canvas.width, canvas.height);
    return { ctx, dpr, w, h };
  }
  function imageTransform(ctx, dpr, w, h, scale) {
    const v = state.view;
    ctx.setTransform(dpr * scale, 0, 0, dpr * scale, dpr * (w / 2 - v.cx * scale), dpr * (h / 2 - v.cy * scale));
    ctx.imageSmoothingEnabled = scale * dpr < 2;
    ctx.imageSmoothingQuality = "high";
  }
  function drawChecker(ctx) {
    if (state.info.channels !== 4) return;
    ctx.fillStyle = "#777"; ctx.fillRect(0, 0, state.info.width, state.info.height);
  }

  let pending = false;
  function schedule() { if (!pending) { pending = true; requestAnimationFrame(render); } }
  function render() {
    pending = false;
    if (!state.photo) return;
    const t0 = performance.now();
    if (state.mode === "paint") renderPaint();
    else if (state.mode === "beforeafter") renderBeforeAfter();
    else renderSideBySide();
    state.stats.frames++; state.stats.frameMs = performance.now() - t0;
    if (state.stats.firstPaintMs === null) state.stats.firstPaintMs = performance.now();
  }
  function useSmall(scale, dpr) { return !!state.small && scale * dpr <= state.small.scale; }
  function drawPhoto(ctx, bitmap, smallBitmap, small) {
    if (small && smallBitmap) ctx.drawImage(smallBitmap, 0, 0, state.info.width, state.info.height);
    else ctx.drawImage(bitmap, 0, 0);
  }
  function renderPaint() {
    const canvas = $("paint-canvas");
    const { ctx, dpr, w, h } = prepareCanvas(canvas);
    imageTransform(ctx, dpr, w, h, state.view.scale);
    const small = useSmall(state.view.scale, dpr);
    drawChecker(ctx);
    drawPhoto(ctx, state.photo, state.small && state.small.photo, small);
    ctx.globalAlpha = 0.5;
    const W = state.info.width, H = state.info.height;
    if (useAlpha()) ctx.drawImage(small ? state.small.alpha : state.alphaHole, 0, 0, W, H);
    ctx.drawImage(small ? state.small.mask : state.mask, 0, 0, W, H);
    ctx.globalAlpha = 1;
    $("zoom-value").textContent = `${Math.round(state.view.scale * dpr * 100)} %`;
    if (state.pointer && !state.panning && !state.spaceDown) {   // the brush outline
      ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
      const r = Math.max(1, (state.size / 2) * state.view.scale);
      ctx.beginPath(); ctx.arc(state.pointer.sx, state.pointer.sy, r, 0, Math.PI * 2);
      ctx.lineWidth = 3; ctx.strokeStyle = "rgba(0,0,0,0.7)"; ctx.stroke();
      ctx.lineWidth = 1.2; ctx.strokeStyle = state.tool === "eraser" ? "#9cf" : "#fff"; ctx.stroke();
    }
  }
  function renderBeforeAfter() {
    const r = state.current;
    const canvas = $("ba-canvas");
    const { ctx, dpr, w, h } = prepareCanvas(canvas);
    imageTransform(ctx, dpr, w, h, state.view.scale);
    drawChecker(ctx);
    const small = useSmall(state.view.scale, dpr);
    drawPhoto(ctx, state.photo, state.small && state.small.photo, small);
    if (r) {
      ctx.save();
      ctx.setTransform(1, 0, 0, 1, 0, 0);
      ctx.beginPath(); ctx.rect(state.split * w * dpr, 0, w * dpr, h * dpr); ctx.clip();
      imageTransform(ctx, dpr, w, h, state.view.scale);
      drawChecker(ctx);
      drawPhoto(ctx, r.bitmap, r.small, small);
      ctx.restore();
      ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
      const x = Math.round(state.split * w) + 0.5;
      ctx.fillStyle = "#fff"; ctx.fillRect(x - 1, 0, 2, h);
      ctx.beginPath(); ctx.arc(x, h / 2, 14, 0, Math.PI * 2);
      ctx.fillStyle = "rgba(0,0,0,0.6)"; ctx.fill(); ctx.lineWidth = 2; ctx.strokeStyle = "#fff"; ctx.stroke();
      ctx.fillStyle = "#fff"; ctx.font = "bold 14px system-ui"; ctx.textAlign = "center"; ctx.textBaseline = "middle";
      ctx.fillText("⇔", x, h / 2 + 1);
      $("ba-after-label").textContent = `After: ${describe(r)}`;
    }
  }
  function compared() { return state.results.filter((r) => r.compare).slice(-MAX_COMPARE); }
  function renderSideBySide() {
    const box = $("sidebyside");
    const panels = [{ label: "Before", bitmap: state.photo, small: state.small && state.small.photo, result: null },
                    ...compared().map((r) => ({ label: `${describe(r)} · ${fmtSeconds(r.seconds || 0)}`, bitmap: r.bitmap, small: r.small, result: r }))];
    if (box.childElementCount !== panels.length || box.dataset.key !== panels.map((p) => p.label).join("|")) {
      box.innerHTML = "";
      box.dataset.key = panels.map((p) => p.label).join("|");
      box.style.gridTemplateColumns = `repeat(${panels.length === 4 ? 2 : panels.length}, 1fr)`;
      for (const p of panels) {
        const fig = document.createElement("figure");
        const canvas = document.createElement("canvas");
        const cap = document.createElement("figcaption"); cap.textContent = p.label;
        fig.append(canvas, cap); box.append(fig);
      }
    }
    [...box.children].forEach((fig, i) => {
      fig.classList.toggle("current", !!panels[i].result && panels[i].result === state.current);
      fig.result = panels[i].result;
    });
    const { w: sw, h: sh } = stageSize();
    [...box.children].forEach((fig, i) => {
      const canvas = fig.firstChild;
      const { ctx, dpr, w, h } = prepareCanvas(canvas);
      // The same zoom relative to "fit" in every panel, centred on the same point.
      const scale = state.view.scale * fitScale(w, h) / fitScale(sw, sh);
      imageTransform(ctx, dpr, w, h, scale);
      drawChecker(ctx);
      drawPhoto(ctx, panels[i].bitmap, panels[i].small, useSmall(scale, dpr));
    });
  }

  // ---------- pointer input on the stage ----------
  function bindStage(canvas, { paint = false, split = false } = {}) {
    canvas.addEventListener("pointerdown", (e) => {
      if (!state.photo) return;
      canvas.setPointerCapture(e.pointerId);
      const pan = e.button === 1 || state.spaceDown || (!paint && !split && e.button === 0);
      if (pan) {
        state.panning = { x: e.clientX, y: e.clientY, cx: state.view.cx, cy: state.view.cy, scale: panScale(canvas) };
        canvas.classList.add("panning");
        e.preventDefault();
        return;
      }
      if (e.button !== 0) return;
      if (split) { moveSplit(canvas, e); state.splitting = true; return; }
      const p = toImage(canvas, e.clientX, e.clientY);
      state.stroke = { mode: state.tool, size: state.size, points: [p.x, p.y] };
      // While the stroke lasts only the mask on screen is painted; pointerup paints the other.
      state.stroke.live = liveMask();
      onMasks((ctx) => drawDot(ctx, state.stroke, p.x, p.y), state.stroke.live);
      state.stats.pointerEvents++;
      schedule();
    });
    canvas.addEventListener("pointermove", (e) => {
      const r = canvas.getBoundingClientRect();
      state.pointer = { sx: e.clientX - r.left, sy: e.clientY - r.top };
      if (state.panning) {
        const s = state.panning.scale;
        state.view.cx = state.panning.cx - (e.clientX - state.panning.x) / s;
        state.view.cy = state.panning.cy - (e.clientY - state.panning.y) / s;
      } else if (state.splitting) {
        moveSplit(canvas, e);
      } else if (state.stroke) {
        // Coalesced events: every sample the pointer produced, not one per frame.
        const events = e.getCoalescedEvents ? e.getCoalescedEvents() : [];
        const list = events.length ? events : [e];
        const pts = state.stroke.points;
        const first = pts.length;
        for (const ev of list) {
          const p = toImage(canvas, ev.clientX, ev.clientY);
          pts.push(p.x, p.y);
        }
        onMasks((ctx) => {   // one path for all the new samples
          strokeStyle(ctx, state.stroke);
          ctx.beginPath(); ctx.moveTo(pts[first - 2], pts[first - 1]);
          for (let i = first; i < pts.length; i += 2) ctx.lineTo(pts[i], pts[i + 1]);
          ctx.stroke();
        }, state.stroke.live);
        state.stats.pointerEvents += list.length;
      }
      schedule();
    });
    const end = (e) => {
      const p = state.panning;
      if (p && !paint && !split && e && Math.hypot(e.clientX - p.x, e.clientY - p.y) < 4) {
        const fig = document.elementFromPoint(e.clientX, e.clientY)?.closest("figure");
        if (fig && fig.result) { state.current = fig.result; renderResults(); }
      }
      if (state.stroke) {
        state.stats.strokes++;
        const op = state.stroke; state.stroke = null;
        const other = op.live === "small" ? "full" : op.live === "full" ? "small" : null;
        if (other) onMasks((ctx) => drawOp(ctx, op), other);
        delete op.live;
        pushOp(op);
      }
      state.panning = null; state.splitting = false;
      canvas.classList.remove("panning");
      schedule();
    };
    canvas.addEventListener("pointerup", end);
    canvas.addEventListener("pointercancel", end);
    canvas.addEventListener("pointerleave", () => { state.pointer = null; schedule(); });
    canvas.addEventListener("wheel", (e) => {
      if (!state.photo) return;
      e.preventDefault();
      const r = stage.getBoundingClientRect();
      zoomAt(Math.exp(-e.deltaY * (e.deltaMode === 1 ? 0.05 : 0.0015)), e.clientX - r.left, e.clientY - r.top, r.width, r.height);
    }, { passive: false });
  }
  function panScale(canvas) {
    const { w, h } = stageSize();
    return state.mode === "sidebyside" ? state.view.scale * fitScale(canvas.clientWidth, canvas.clientHeight) / fitScale(w, h) : state.view.scale;
  }
  function moveSplit(canvas, e) {
    const r = canvas.getBoundingClientRect();
    state.split = Math.min(1, Math.max(0, (e.clientX - r.left) / r.width));
    schedule();
  }

  // ---------- methods and their forms ----------
  async function loadMethods() {
    const response = await fetch("/api/methods");
    state.methods = await response.json();
    const select = $("method");
    select.innerHTML = "";
    const auto = new Option("auto (picks for you)", "auto");
    select.append(auto);
    for (const m of state.methods) {
      const label = `${m.name} (${m.kind})${m.available ? "" : " - unavailable"}`;
      select.append(new Option(label, m.name));
    }
    select.value = "auto";
    methodChanged();
  }
  function methodRow() { return state.methods.find((m) => m.name === $("method").value) || null; }
  function methodChanged() {
    const m = methodRow();
    $("method-description").textContent = m ? m.description : "Thin scratches and specks go to diffusion; objects and larger areas to patchmatch.";
    setError($("method-error"), m && !m.available ? m.error : "");
    buildParams(m);
    updateButtons();
  }
  function buildParams(m) {
    const box = $("params");
    box.innerHTML = "";
    const values = (m && state.formValues[m.name]) || {};
    show($("options"), !!m);
    if (!m || !m.available) return;
    for (const p of m.params) {
      const label = document.createElement("label");
      label.className = "param"; label.title = p.doc || "";
      label.append(document.createTextNode(p.name.replace(/_/g, " ")));
      let input;
      const value = p.name in values ? values[p.name] : p.default;
      if (p.kind === "choice") {
        input = document.createElement("select");
        for (const c of p.choices) input.append(new Option(c, c));
        input.value = value;
      } else if (p.kind === "bool") {
        input = document.createElement("input"); input.type = "checkbox"; input.checked = !!value;
      } else {
        input = document.createElement("input");
        input.type = p.kind === "text" ? "text" : "number";
        if (p.kind === "int") input.step = "1";
        if (p.kind === "float") input.step = "any";
        input.value = value;
      }
      input.dataset.name = p.name; input.dataset.kind = p.kind;
      input.addEventListener("change", () => {
        (state.formValues[m.name] ||= {})[p.name] = readInput(input);
      });
      label.append(input);
      box.append(label);
    }
    const skipped = Object.keys(m.not_offered || {});
    if (skipped.length) {
      const note = document.createElement("p");
      note.className = "muted small";
      note.textContent = `Not offered here: ${skipped.join(", ")} (files or arrays; use the command line).`;
      box.append(note);
    }
  }
  function readInput(input) {
    const kind = input.dataset.kind;
    if (kind === "bool") return input.checked;
    if (kind === "int" || kind === "float") return input.value === "" ? null : Number(input.value);
    return input.value;
  }
  function changedParams() {
    const m = methodRow();
    if (!m) return {};
    const out = {};
    for (const input of $("params").querySelectorAll("[data-name]")) {
      const p = m.params.find((q) => q.name === input.dataset.name);
      const value = readInput(input);
      if (value !== p.default && !(p.kind !== "text" && value === null)) out[p.name] = value;
    }
    return out;
  }

  // ---------- running a fill ----------
  async function run() {
    if (!canRun()) return;
    setError($("run-error"), "");
    const m = $("method").value;
    const form = new FormData();
    form.append("image", state.file, state.file.name);
    form.append("mask", await maskBlob(), "mask.png");
    form.append("method", m);
    const params = changedParams();
    form.append("params", JSON.stringify(params));
    form.append("seed", String(parseInt($("seed").value || "0", 10) || 0));
    form.append("filename", state.file.name);
    state.job = { id: null, started: performance.now(), params, cancelled: false };
    updateButtons();
    showProgress("Uploading…", 0);
    let response;
    try { response = await fetch("/api/fill", { method: "POST", body: form }); }
    catch (err) { return finishJob(`Cannot reach the server: ${err}`); }
    if (!response.ok) {
      const text = await errorText(response);
      return finishJob(response.status === 429 ? `The server is busy: ${text}` : text);
    }
    const job = await response.json();
    state.job.id = job.id;
    if (state.job.cancelled) {   // Cancel was pressed while the photo was uploading
      await fetch(`/api/jobs/${job.id}`, { method: "DELETE" });
      return finishJob(null, "Cancelled.");
    }
    poll();
  }
  async function poll() {
    const job = state.job;
    if (!job || !job.id) return;
    let response;
    try { response = await fetch(`/api/jobs/${job.id}`); }
    catch (err) { return finishJob(`Lost the server: ${err}`); }
    if (state.job !== job) return;
    if (response.status === 404 && job.cancelled) return finishJob(null, "Cancelled.");
    if (!response.ok) return finishJob(await errorText(response));
    const s = await response.json();
    const elapsed = (performance.now() - job.started) / 1000;
    if (s.state === "queued") showProgress(s.position ? `Waiting: ${s.position} fill(s) ahead…` : "Starting…", 0);
    else if (s.state === "running") showProgress(`${s.method}${s.stage && s.stage !== s.method ? " · " + s.stage : ""} · ${Math.round(100 * s.progress)} % · ${fmtSeconds(elapsed)}`, s.progress);
    else if (s.state === "cancelling") showProgress("Cancelling (at the method's next step)…", s.progress);
    else if (s.state === "failed") return finishJob(`${s.method} failed: ${s.error}`);
    else if (s.state === "cancelled") return finishJob(null, "Cancelled.");
    else if (s.state === "done") return receive(s).catch((err) => finishJob(`Cannot show the result: ${err}`));
    setTimeout(poll, elapsed < 2 ? 100 : 250);
  }
  async function receive(s) {
    showProgress("Downloading the result…", 1);
    const response = await fetch(`/api/jobs/${s.id}/result`);
    if (!response.ok) return finishJob(await errorText(response));
    const blob = await response.blob();
    fetch(`/api/jobs/${s.id}`, { method: "DELETE" });   // the page holds it now: free the server's copy
    const bitmap = await createImageBitmap(blob, { premultiplyAlpha: "none", colorSpaceConversion: "none" });
    const small = state.small ? await createImageBitmap(bitmap, {
      resizeWidth: state.small.mask.width, resizeHeight: state.small.mask.height, resizeQuality: "high" }) : null;
    const result = { id: s.id, method: s.method, requested: s.requested, params: s.params, seed: s.seed,
                     seconds: s.fill_seconds, dtype: s.dtype, blob, bitmap, small,
                     url: URL.createObjectURL(blob), compare: true };
    state.results.push(result);
    const inCompare = state.results.filter((r) => r.compare);
    if (inCompare.length > MAX_COMPARE) inCompare[0].compare = false;
    state.current = result;
    const total = (performance.now() - state.job.started) / 1000;
    finishJob(null, `Done: ${s.method} in ${fmtSeconds(s.fill_seconds)} (${fmtSeconds(total)} in all).`);
    renderResults();
    setMode(state.results.length >= 2 ? "sidebyside" : "beforeafter");
  }
  function finishJob(error, message) {
    state.job = null;
    setError($("run-error"), error);
    if (message) showProgress(message, null); else show($("progress-box"), false);
    updateButtons();
  }
  function showProgress(text, value) {
    show($("progress-box"), true);
    $("progress-text").textContent = text;
    const bar = $("progress");
    show(bar, value !== null);
    if (value !== null) bar.value = value;
  }
  async function cancel() {
    const job = state.job;
    if (!job) return;
    job.cancelled = true;
    if (job.id) await fetch(`/api/jobs/${job.id}`, { method: "DELETE" });
    showProgress("Cancelling…", null);
  }
  function canRun() {
    const m = $("method").value;
    const row = methodRow();
    return !!state.photo && !state.job && (hasPaint() || (useAlpha())) && (m === "auto" || (row && row.available));
  }

  // ---------- results ----------
  function describe(r) {
    const options = Object.entries(r.params || {}).map(([k, v]) => `${k}=${v}`).join(", ");
    const name = r.requested === "auto" ? `auto → ${r.method}` : r.method;
    return options ? `${name} (${options})` : name;
  }
  function forgetResult(r) {
    URL.revokeObjectURL(r.url);
    if (r.bitmap.close) r.bitmap.close();
    if (r.small && r.small.close) r.small.close();
  }
  function renderResults() {
    const list = $("results");
    list.innerHTML = "";
    show($("results-empty"), state.results.length === 0);
    state.results.forEach((r, i) => {
      const li = document.createElement("li");
      li.className = r === state.current ? "current" : "";
      const box = document.createElement("input");
      box.type = "checkbox"; box.checked = r.compare; box.title = "Show side by side";
      box.addEventListener("click", (e) => {
        e.stopPropagation();
        r.compare = box.checked;
        const on = state.results.filter((q) => q.compare);
        if (on.length > MAX_COMPARE) { on.find((q) => q !== r).compare = false; }
        renderResults(); schedule();
      });
      const img = document.createElement("img"); img.src = r.url; img.alt = "";
      const label = document.createElement("span"); label.className = "label";
      label.textContent = `${i + 1}. ${describe(r)}`;
      const small = document.createElement("small");
      small.textContent = `${fmtSeconds(r.seconds || 0)} · seed ${r.seed}`;
      label.append(small);
      const remove = document.createElement("button");
      remove.className = "remove"; remove.textContent = "×"; remove.title = "Remove this result";
      remove.addEventListener("click", (e) => {
        e.stopPropagation();
        forgetResult(r);
        state.results = state.results.filter((q) => q !== r);
        if (state.current === r) state.current = state.results[state.results.length - 1] || null;
        if (!state.results.length && state.mode !== "paint") setMode("paint");
        renderResults(); schedule();
      });
      li.append(box, img, label, remove);
      li.addEventListener("click", () => { state.current = r; renderResults(); if (state.mode === "paint") setMode("beforeafter"); schedule(); });
      list.append(li);
    });
    const link = $("download");
    const r = state.current;
    if (r) {
      link.href = r.url;
      link.download = `${state.stem}-${r.method}.png`;
      link.classList.remove("disabled"); link.removeAttribute("aria-disabled");
      const bits = r.dtype === "uint8" ? "8-bit" : "16-bit";
      $("download-info").textContent = `${link.download}: ${bits} PNG, ${state.info.width}×${state.info.height}`;
    } else {
      link.removeAttribute("href"); link.classList.add("disabled"); link.setAttribute("aria-disabled", "true");
      $("download-info").textContent = "";
    }
    updateButtons();
  }

  // ---------- modes, buttons, keys ----------
  function setMode(mode) {
    if (mode !== "paint" && !state.results.length) mode = "paint";
    state.mode = mode;
    show($("paint-canvas"), mode === "paint" && !!state.photo);
    show($("beforeafter"), mode === "beforeafter");
    show($("sidebyside"), mode === "sidebyside");
    show($("stage-hint"), !!state.photo);
    $("stage-hint").innerHTML = {
      paint: "Scroll to zoom · Space+drag or middle-drag to pan · <kbd>[</kbd> <kbd>]</kbd> brush size · <kbd>Ctrl</kbd>+<kbd>Z</kbd> undo",
      beforeafter: "Drag to move the divider · scroll to zoom · middle-drag to pan",
      sidebyside: "Click a result to pick it for download · drag to pan · scroll to zoom (all panels together)",
    }[mode];
    for (const tab of document.querySelectorAll(".tab")) tab.classList.toggle("active", tab.dataset.view === mode);
    schedule();
  }
  function updateButtons() {
    $("undo").disabled = !state.ops.length;
    $("redo").disabled = !state.redo.length;
    $("clear").disabled = !hasPaint();
    $("run").disabled = !canRun();
    show($("run"), !state.job);
    show($("cancel"), !!state.job);
    $("run-another").disabled = !state.results.length || !!state.job;
    for (const tab of document.querySelectorAll(".tab")) tab.disabled = tab.dataset.view !== "paint" && !state.results.length;
    $("run").title = !state.photo ? "Open a photo first" : (!hasPaint() && !useAlpha()) ? "Paint over what to remove first" : "Fill the painted hole (Ctrl+Enter)";
  }
  function setTool(tool) {
    state.tool = tool;
    $("tool-brush").classList.toggle("active", tool === "brush");
    $("tool-eraser").classList.toggle("active", tool === "eraser");
    if (state.mode !== "paint") setMode("paint");
    schedule();
  }
  function setSize(size) {
    state.size = Math.max(1, Math.min(+$("brush-size").max, Math.round(size)));
    $("brush-size").value = state.size;
    $("brush-size-value").textContent = `${state.size} px`;
    schedule();
  }
  function runAnother() {
    setMode("paint");
    const select = $("method");
    const used = new Set(state.results.map((r) => r.method));
    const next = state.methods.find((m) => m.available && !used.has(m.name) && m.kind === "classical")
      || state.methods.find((m) => m.available && !used.has(m.name));
    if (next) { select.value = next.name; methodChanged(); }
    select.focus();
    showProgress("Pick another method (the mask is kept) and press Run; results are shown side by side.", null);
  }

  function bindControls() {
    $("open-button").addEventListener("click", () => $("file-input").click());
    $("open-button-2").addEventListener("click", () => $("file-input").click());
    $("file-input").addEventListener("change", (e) => { openFile(e.target.files[0]); e.target.value = ""; });
    // One listener on the document: a drop anywhere opens the photo, once.
    document.addEventListener("dragover", (e) => { e.preventDefault(); stage.classList.add("over"); });
    document.addEventListener("dragleave", (e) => { if (!e.relatedTarget) stage.classList.remove("over"); });
    document.addEventListener("drop", (e) => {
      e.preventDefault(); stage.classList.remove("over");
      if (e.dataTransfer && e.dataTransfer.files.length) openFile(e.dataTransfer.files[0]);
    });
    $("tool-brush").addEventListener("click", () => setTool("brush"));
    $("tool-eraser").addEventListener("click", () => setTool("eraser"));
    $("brush-size").addEventListener("input", (e) => setSize(+e.target.value));
    $("undo").addEventListener("click", undo);
    $("redo").addEventListener("click", redo);
    $("clear").addEventListener("click", clearMask);
    $("alpha-hole").addEventListener("change", maskChanged);
    $("zoom-fit").addEventListener("click", () => state.photo && fitView());
    $("zoom-100").addEventListener("click", () => state.photo && actualPixels());
    $("method").addEventListener("change", methodChanged);
    $("reset-params").addEventListener("click", () => { const m = methodRow(); if (m) { delete state.formValues[m.name]; buildParams(m); } });
    $("run").addEventListener("click", run);
    $("cancel").addEventListener("click", cancel);
    $("run-another").addEventListener("click", runAnother);
    for (const tab of document.querySelectorAll(".tab")) tab.addEventListener("click", () => setMode(tab.dataset.view));
    bindStage($("paint-canvas"), { paint: true });
    bindStage($("ba-canvas"), { split: true });
    bindStage($("sidebyside"));
    window.addEventListener("resize", schedule);
    window.addEventListener("keydown", (e) => {
      const typing = /^(INPUT|SELECT|TEXTAREA)$/.test(e.target.tagName) && e.target.type !== "range" && e.target.type !== "checkbox";
      const ctrl = e.ctrlKey || e.metaKey;
      if (ctrl && e.key === "Enter") { e.preventDefault(); run(); return; }
      if (typing) return;
      if (ctrl && (e.key === "z" || e.key === "Z")) { e.preventDefault(); e.shiftKey ? redo() : undo(); }
      else if (ctrl && (e.key === "y" || e.key === "Y")) { e.preventDefault(); redo(); }
      else if (ctrl && (e.key === "o" || e.key === "O")) { e.preventDefault(); $("file-input").click(); }
      else if (ctrl) return;
      else if (e.key === "[") setSize(state.size > 10 ? state.size / 1.2 : state.size - 1);
      else if (e.key === "]") setSize(state.size >= 10 ? state.size * 1.2 : state.size + 1);
      else if (e.key === "b" || e.key === "B") setTool("brush");
      else if (e.key === "e" || e.key === "E") setTool("eraser");
      else if (e.key === "0") state.photo && fitView();
      else if (e.key === "1") state.photo && actualPixels();
      else if (e.key === "p" || e.key === "P") setMode("paint");
      else if (e.key === "a" || e.key === "A") setMode("beforeafter");
      else if (e.key === "s" || e.key === "S") setMode("sidebyside");
      else if (e.key === "Escape") cancel();
      else if (e.key === " ") { state.spaceDown = true; $("paint-canvas").classList.add("panning"); e.preventDefault(); }
    });
    window.addEventListener("keyup", (e) => {
      if (e.key === " ") { state.spaceDown = false; $("paint-canvas").classList.remove("panning"); }
    });
  }

  bindControls();
  setSize(40);
  loadMethods().catch((err) => setError($("run-error"), `Cannot list the methods: ${err}`));
  updateButtons();
})();
