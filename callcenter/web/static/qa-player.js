// The spot-check player: an HTML <audio> with seek ±5 s, 1×–2× speed and "skip silence".
// Skip silence is measured, not decoded: an AnalyserNode on the playing audio, and while its
// level stays under a threshold for a while the player leaps ahead (no whole-file decode, so
// a long call starts at once and seeking stays the browser's own, with Range requests).
// After a leap the analyser still holds the audio from before it, so each landing is judged
// only once new audio has played; sound there means it began inside the leap, so the player
// goes back to where it was still quiet and plays on: a word after a pause is not cut short.

export const SPEEDS = [1, 1.25, 1.5, 2];
const SILENCE_RMS = 0.01; // about -40 dBFS: line noise, not speech
const SILENCE_MS = 400; // a pause shorter than this is part of the conversation
const LEAP_S = 1; // one leap through a silence
const SETTLE_S = 0.2; // audio played after a landing before the analyser speaks for it

export class Player {
  constructor(audio, onChange) {
    this.audio = audio;
    this.onChange = onChange;
    this.skip = false;
    this.graph = null;
    this.quietSince = null;
    this.landed = null; // where the last leap landed, until that place is judged
    this.holdUntil = 0; // no leap before this time: the sound a leap went past, replayed
    this.leaping = false; // the next "seeking" is the player's own
    audio.addEventListener("play", () => this.tick());
    audio.addEventListener("seeking", () => {
      // Any seek makes the level stale; one that is not ours ends the leaping.
      this.quietSince = null;
      if (!this.leaping) this.reset();
      this.leaping = false;
    });
    for (const ev of ["play", "pause", "ratechange", "loadedmetadata"]) {
      audio.addEventListener(ev, () => onChange());
    }
  }

  reset() {
    this.quietSince = null;
    this.landed = null;
    this.holdUntil = 0;
  }

  load(url) {
    this.audio.src = url || "";
    this.audio.playbackRate = 1;
    this.reset();
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
    this.reset();
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

  moveTo(seconds) {
    this.leaping = true;
    this.audio.currentTime = seconds;
  }

  leap() {
    const a = this.audio;
    const end = Number.isFinite(a.duration) ? a.duration : Infinity;
    this.landed = Math.min(end, a.currentTime + LEAP_S);
    this.moveTo(this.landed);
  }

  judge() {
    const a = this.audio;
    if (a.seeking) return; // the level is from before the seek
    const quiet = this.level() < SILENCE_RMS;
    if (this.landed !== null) {
      if (a.currentTime - this.landed < SETTLE_S) return;
      if (quiet) {
        this.leap();
      } else {
        // The sound began inside the last leap: back to where it was quiet, and play it.
        this.holdUntil = a.currentTime;
        const back = Math.max(0, this.landed - LEAP_S);
        this.landed = null;
        this.moveTo(back);
      }
      return;
    }
    const now = performance.now();
    if (!quiet || a.currentTime < this.holdUntil) this.quietSince = null;
    else if (this.quietSince === null) this.quietSince = now;
    else if (now - this.quietSince > SILENCE_MS) this.leap();
  }

  tick() {
    if (!this.skip || !this.graph || this.audio.paused || this.ticking) return;
    this.ticking = true;
    requestAnimationFrame(() => {
      this.ticking = false;
      if (!this.skip || this.audio.paused) return;
      this.judge();
      this.tick();
    });
  }
}
