//! `scx_relay record`: the dispatcher's scheduling events (its `record`
//! ring buffer, written only while recording) to a file, in
//! `scheduler_core::record`'s format, from a thread of their own: the
//! scheduling loop never sees them.
//!
//! The file is a [`RecordFile`], opened before the first session and
//! finished after the last (a CPU-hotplug restart keeps writing to it).
//! Each session runs a [`Recorder`]: a thread that polls the ring buffer
//! (the dispatcher submits without waking anyone) and writes each event.

use std::{
    fs::File,
    io::BufWriter,
    path::{Path, PathBuf},
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex, PoisonError,
    },
    thread::JoinHandle,
    time::Duration,
};

use anyhow::{Context, Result};
use libbpf_rs::{MapCore, RingBufferBuilder};
use scheduler_core::{record::Writer, wire::RawRecordEvent};

use super::backend::monotonic_ns;

/// The record ring buffer's size while recording (bytes), unless
/// `--test-record-ring-kib` says otherwise: about 260 000 events (64 bytes
/// each with the ring's header), seconds of a busy machine's events, so a
/// recorder thread that waits for a CPU a while loses none.
pub const RING_BYTES: u32 = 16 << 20;

/// How often the recorder thread reads the ring buffer.
const POLL_INTERVAL: Duration = Duration::from_millis(20);

/// The recording file, shared by the sessions' recorders.
pub struct RecordFile {
    path: PathBuf,
    state: Mutex<FileState>,
}

struct FileState {
    /// `None` once a write failed (or after `finish`).
    writer: Option<Writer<BufWriter<File>>>,
    /// The first write error.
    error: Option<std::io::Error>,
    /// Events the dispatcher lost, over the sessions.
    dropped: u64,
}

/// What a finished recording holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Totals {
    /// Events written.
    pub events: u64,
    /// Events the dispatcher lost (its ring buffer was full).
    pub dropped: u64,
}

impl std::fmt::Debug for RecordFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordFile").field("path", &self.path).finish_non_exhaustive()
    }
}

impl RecordFile {
    /// Creates `path` (replacing what is there) for a machine with `nr_cpus`
    /// CPUs whose dispatcher runs with `dispatcher_flags`
    /// (`scheduler_core::record::HOG_RULE`).
    pub fn create(path: &Path, nr_cpus: u32, dispatcher_flags: u64) -> Result<Arc<Self>> {
        let file = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
        let writer = Writer::new(BufWriter::with_capacity(1 << 20, file), nr_cpus, monotonic_ns(), dispatcher_flags)
            .with_context(|| format!("cannot write {}", path.display()))?;
        Ok(Arc::new(Self {
            path: path.to_owned(),
            state: Mutex::new(FileState { writer: Some(writer), error: None, dropped: 0 }),
        }))
    }

    fn state(&self) -> std::sync::MutexGuard<'_, FileState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Writes with `write`, unless a write failed before; the first
    /// failure is kept (for `finish`) and stops writing.
    fn write(&self, write: impl FnOnce(&mut Writer<BufWriter<File>>) -> std::io::Result<()>) {
        let mut state = self.state();
        let FileState { writer, error, .. } = &mut *state;
        if let Some(w) = writer {
            if let Err(e) = write(w) {
                *error = Some(e);
                *writer = None;
            }
        }
    }

    /// Writes one ring-buffer sample; a malformed one is skipped.
    fn write_sample(&self, data: &[u8]) {
        if let Ok(event) = RawRecordEvent::from_bytes(data) {
            self.write(|w| w.event(&event).map(drop));
        }
    }

    /// Marks a session's start in the file.
    fn session(&self) {
        self.write(|w| w.session(monotonic_ns()));
    }

    /// Adds events a session's dispatcher lost.
    fn add_dropped(&self, dropped: u64) {
        self.state().dropped += dropped;
    }

    /// Writes the totals and closes the file; an error names the file.
    pub fn finish(&self) -> Result<Totals> {
        let mut state = self.state();
        let dropped = state.dropped;
        if let Some(e) = state.error.take() {
            return Err(e).with_context(|| format!("cannot write {}", self.path.display()));
        }
        let writer = state.writer.take().context("the recording was already finished")?;
        let events = writer.events();
        writer.finish(dropped, monotonic_ns()).with_context(|| format!("cannot write {}", self.path.display()))?;
        Ok(Totals { events, dropped })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// One session's recorder thread.
pub struct Recorder {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    file: Arc<RecordFile>,
}

impl Recorder {
    /// Starts reading `ring` (the dispatcher's `record` map) into `file`.
    pub fn start(ring: &dyn MapCore, file: &Arc<RecordFile>) -> Result<Self> {
        file.session();
        let sink = Arc::clone(file);
        let mut builder = RingBufferBuilder::new();
        builder
            .add(ring, move |data: &[u8]| {
                sink.write_sample(data);
                0
            })
            .context("cannot read the record ring buffer")?;
        let ring = builder.build().context("cannot read the record ring buffer")?;
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("scx_relay-record".to_owned())
            .spawn(move || {
                // Not `poll`: the dispatcher submits without a wake-up
                // (BPF_RB_NO_WAKEUP), so epoll would never report the ring
                // ready (libbpf's ring_buffer__poll reads only rings it
                // reports); `consume` reads whatever is there.
                while !stopping.load(Ordering::Acquire) {
                    let _ = ring.consume();
                    std::thread::sleep(POLL_INTERVAL);
                }
                // What was written up to the stop: the dispatcher is detached.
                let _ = ring.consume();
            })
            .context("cannot start the recorder thread")?;
        Ok(Self { stop, thread: Some(thread), file: Arc::clone(file) })
    }

    /// Stops the thread once it has written every event the ring buffer
    /// holds (call after detaching), and adds the session's lost events.
    pub fn finish(mut self, dropped: u64) {
        self.join();
        self.file.add_dropped(dropped);
    }

    fn join(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Recorder {
    /// On an early return or an unwind: the thread stops before the ring
    /// buffer's map goes.
    fn drop(&mut self) {
        self.join();
    }
}
