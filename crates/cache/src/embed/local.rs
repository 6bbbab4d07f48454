//! The embedded embedder: all-MiniLM-L6-v2 (a 6-layer BERT, 384 dimensions) run on the CPU
//! with candle, so the semantic tier works with no embedding provider and no network.
//!
//! Why these details:
//! - The model folder is read from disk (`model.safetensors`, `tokenizer.json`,
//!   `config.json`; `scripts/fetch-embedding-model.sh` fetches them): nothing is downloaded at
//!   run time.
//! - The packaged `tokenizer.json` pads every input to 128 tokens. Mean pooling over those pad
//!   positions drags every sentence toward the same vector (unrelated sentences then score
//!   ~0.8), so padding is switched off, and the pooling weights positions by the attention
//!   mask anyway. Inputs are truncated at 256 tokens, the length the model was trained on.
//! - A forward pass is ~20 ms of CPU work: [`Embedder::embed`] runs it on tokio's blocking
//!   pool, never on a runtime worker.

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use tokenizers::{Tokenizer, TruncationParams};

use super::{EmbedError, Embedder, normalize};

/// The longest input, in tokens, the model sees (the rest is cut off).
const MAX_TOKENS: usize = 256;

/// What [`Embedder::name`] reports.
const NAME: &str = "local:all-MiniLM-L6-v2";

/// all-MiniLM-L6-v2 loaded from a folder. Cheap to clone: the model is shared.
#[derive(Clone)]
pub struct LocalEmbedder {
    model: Arc<Model>,
    /// One embedding per core at a time: more would only queue on the CPU and take it from
    /// the request path.
    permits: Arc<tokio::sync::Semaphore>,
}

struct Model {
    bert: BertModel,
    tokenizer: Tokenizer,
    dimension: usize,
    device: Device,
}

impl std::fmt::Debug for LocalEmbedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalEmbedder")
            .field("dimension", &self.model.dimension)
            .finish_non_exhaustive()
    }
}

fn err(what: &str, e: impl std::fmt::Display) -> EmbedError {
    EmbedError(format!("{what}: {e}"))
}

impl LocalEmbedder {
    /// Load the model from `dir`, which holds `model.safetensors`, `tokenizer.json` and
    /// `config.json` (as fetched by `scripts/fetch-embedding-model.sh`).
    pub fn load(dir: &Path) -> Result<Self, EmbedError> {
        let file = |name: &str| {
            let path = dir.join(name);
            if path.is_file() {
                Ok(path)
            } else {
                Err(EmbedError(format!(
                    "local embedding model: {} is missing (run scripts/fetch-embedding-model.sh)",
                    path.display()
                )))
            }
        };
        let (weights, tokenizer, config) = (
            file("model.safetensors")?,
            file("tokenizer.json")?,
            file("config.json")?,
        );

        let config = std::fs::read_to_string(&config).map_err(|e| err("reading config.json", e))?;
        let config: Config =
            serde_json::from_str(&config).map_err(|e| err("parsing config.json", e))?;

        let mut tokenizer =
            Tokenizer::from_file(&tokenizer).map_err(|e| err("loading tokenizer.json", e))?;
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: MAX_TOKENS,
                ..TruncationParams::default()
            }))
            .map_err(|e| err("configuring truncation", e))?;

        let device = Device::Cpu;
        // Read into memory rather than memory-mapped: mapping needs `unsafe`, and 90 MB is
        // read once at start-up.
        let weights = std::fs::read(&weights).map_err(|e| err("reading model.safetensors", e))?;
        let vb = VarBuilder::from_buffered_safetensors(weights, DType::F32, &device)
            .map_err(|e| err("parsing model.safetensors", e))?;
        let bert = BertModel::load(vb, &config).map_err(|e| err("loading the model", e))?;

        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        Ok(Self {
            permits: Arc::new(tokio::sync::Semaphore::new(cores)),
            model: Arc::new(Model {
                bert,
                tokenizer,
                dimension: config.hidden_size,
                device,
            }),
        })
    }

    /// The unit-length embedding of `text`, computed on the calling thread (~20 ms of CPU
    /// in an optimised build). For tests and benchmarks; async code calls [`Embedder::embed`].
    pub fn embed_blocking(&self, text: &str) -> Result<Vec<f32>, EmbedError> {
        self.model.embed(text)
    }
}

impl Model {
    fn embed(&self, text: &str) -> Result<Vec<f32>, EmbedError> {
        let encoding = self
            .tokenizer
            .encode(text, true)
            .map_err(|e| err("tokenizing", e))?;
        let tensor = |values: &[u32]| {
            Tensor::new(values, &self.device)
                .and_then(|t| t.unsqueeze(0))
                .map_err(|e| err("building the input", e))
        };
        let ids = tensor(encoding.get_ids())?;
        let type_ids = tensor(encoding.get_type_ids())?;
        let mask = tensor(encoding.get_attention_mask())?;

        let hidden = self
            .bert
            .forward(&ids, &type_ids, Some(&mask))
            .map_err(|e| err("running the model", e))?;
        let mut pooled = mean_pool(&hidden, &mask).map_err(|e| err("pooling", e))?;
        normalize(&mut pooled);
        Ok(pooled)
    }
}

/// The mean of the token vectors of `hidden` (`[1, tokens, dim]`) over the positions whose
/// `mask` (`[1, tokens]`) is 1: pad positions, if any, do not count.
fn mean_pool(hidden: &Tensor, mask: &Tensor) -> candle_core::Result<Vec<f32>> {
    let mask = mask.to_dtype(DType::F32)?.unsqueeze(2)?; // [1, tokens, 1]
    let summed = hidden.broadcast_mul(&mask)?.sum(1)?; // [1, dim]
    let count = mask.sum(1)?.clamp(1e-9f32, f32::MAX)?; // [1, 1]
    summed.broadcast_div(&count)?.squeeze(0)?.to_vec1::<f32>()
}

#[async_trait]
impl Embedder for LocalEmbedder {
    fn name(&self) -> String {
        NAME.to_owned()
    }

    fn dimension(&self) -> Option<usize> {
        Some(self.model.dimension)
    }

    async fn embed(&self, text: &str) -> Result<Vec<f32>, EmbedError> {
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(|e| err("embedding slot", e))?;
        let model = Arc::clone(&self.model);
        let text = text.to_owned();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            model.embed(&text)
        })
        .await
        .map_err(|e| err("embedding task", e))?
    }
}
