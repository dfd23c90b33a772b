// The spot-check player: an HTML <audio> with seek ±5 s, 1×–2× speed and "skip silence".
// Skip silence is measured, not decoded: an AnalyserNode on the playing audio, and while its
// level stays under a threshold for a while the player jumps ahead (no whole-file decode, so
// a long call starts at once and seeking stays the browser's own, with Range requests).

export const SPEEDS = [1, 1.25, 1.5, 2];
const SILENCE_RMS = 0.01; // about -40 dBFS: line noise, not speech
const SILENCE_MS = 400; // a pause shorter than this is part of the conversation
const JUMP_S = 0.5;

export class Player {
  constructor(audio, onChange) {
    this.audio = audio;
    this.onChange = onChange;
    this.skip = false;
    this.graph = null;
    this.quietSince = null;
    audio.addEventListener("play", () => this.tick());
    for (const ev of ["play", "pause", "ratechange", "loadedmetadata"]) {
      audio.addEventListener(ev, () => onChange());
    }
  }

  load(url) {
    this.audio.src = url || "";
    this.audio.playbackRate = 1;
    this.onChange();
  }

  toggle() {
    if (this.audio.paused) this.audio.play().catch(() => {});
    else this.audio.pause();
  }

  seek(seconds) {
    const a = this.audio;
    const end = Number.isFinite(a.duration) ? a.duration : Infinity;
    a.currentTime = Math.max(0, Math.min(end, a.currentTime + seconds));
  }

  speed(step) {
    const at = SPEEDS.indexOf(this.audio.playbackRate);
    const next = Math.max(0, Math.min(SPEEDS.length - 1, (at < 0 ? 0 : at) + step));
    this.audio.playbackRate = SPEEDS[next];
  }

  toggleSkip() {
    this.skip = !this.skip;
    // The graph is made on the first use only: an AudioContext needs a user gesture, and a
    // media element can be connected to one context once.
    if (this.skip && !this.graph) {
      try {
        const ctx = new AudioContext();
        const source = ctx.createMediaElementSource(this.audio);
        const analyser = ctx.createAnalyser();
        analyser.fftSize = 2048;
        source.connect(analyser);
        analyser.connect(ctx.destination);
        this.graph = { ctx, analyser, buf: new Float32Array(analyser.fftSize) };
      } catch {
        this.graph = null; // no Web Audio: play on without skipping
      }
    }
    if (this.graph && this.graph.ctx.state === "suspended") this.graph.ctx.resume();
    this.quietSince = null;
    this.onChange();
    this.tick();
  }

  level() {
    const { analyser, buf } = this.graph;
    analyser.getFloatTimeDomainData(buf);
    let sum = 0;
    for (const v of buf) sum += v * v;
    return Math.sqrt(sum / buf.length);
  }

  tick() {
    if (!this.skip || !this.graph || this.audio.paused || this.ticking) return;
    this.ticking = true;
    requestAnimationFrame(() => {
      this.ticking = false;
      if (!this.skip || this.audio.paused) return;
      const now = performance.now();
      if (this.level() < SILENCE_RMS) {
        if (this.quietSince === null) this.quietSince = now;
        else if (now - this.quietSince > SILENCE_MS) this.seek(JUMP_S);
      } else {
        this.quietSince = null;
      }
      this.tick();
    });
  }
}
