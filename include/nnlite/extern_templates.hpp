// nnlite/extern_templates.hpp: compile nnlite's float and double classes once per program instead of once per
// translation unit. nnlite is header-only, so every source file that trains a model instantiates the layers, losses,
// optimizers, callbacks and Sequential again and optimises them again; in a project with many such files that is most
// of the build. Include this header (after nnlite.hpp, or instead of it) in every source file: it declares those
// instances `extern template`, so the compiler only calls them. Then, in exactly one source file of the program per
// scalar type, define NNLITE_INSTANTIATE to that type before including it (one file `#define NNLITE_INSTANTIATE
// float`, another `double`, so that the two compile in parallel): that file compiles the instances. All files must be
// compiled with the same flags (-march, sanitizers). Only class templates are listed; function templates (the
// loaders, the registries' creators) and member templates are instantiated where they are used, as without this
// header. nnlite's own tests, tools, example and benchmarks build this way (CMakeLists.txt, nnlite_use_instances).
#pragma once

#include "nnlite.hpp"

/// The class templates of nnlite compiled once per scalar type S: NNLITE_INSTANCE_OF(S, X) is applied to each.
#define NNLITE_INSTANCE_LIST(S, NNLITE_INSTANCE_OF)    \
  NNLITE_INSTANCE_OF(S, ReLU)                          \
  NNLITE_INSTANCE_OF(S, LeakyReLU)                     \
  NNLITE_INSTANCE_OF(S, ELU)                           \
  NNLITE_INSTANCE_OF(S, Softmax)                       \
  NNLITE_INSTANCE_OF(S, ActivationOf)                  \
  NNLITE_INSTANCE_OF(S, PReLU)                         \
  NNLITE_INSTANCE_OF(S, AveragePooling2D)              \
  NNLITE_INSTANCE_OF(S, MaxPool2D)                     \
  NNLITE_INSTANCE_OF(S, GlobalAveragePooling2D)        \
  NNLITE_INSTANCE_OF(S, GlobalMaxPooling2D)            \
  NNLITE_INSTANCE_OF(S, BatchNormalization)            \
  NNLITE_INSTANCE_OF(S, Conv2D)                        \
  NNLITE_INSTANCE_OF(S, DepthwiseConv2D)               \
  NNLITE_INSTANCE_OF(S, SeparableConv2D)               \
  NNLITE_INSTANCE_OF(S, Dense)                         \
  NNLITE_INSTANCE_OF(S, Dropout)                       \
  NNLITE_INSTANCE_OF(S, SpatialDropout2D)              \
  NNLITE_INSTANCE_OF(S, GaussianNoise)                 \
  NNLITE_INSTANCE_OF(S, Flatten)                       \
  NNLITE_INSTANCE_OF(S, Reshape)                       \
  NNLITE_INSTANCE_OF(S, Rescaling)                     \
  NNLITE_INSTANCE_OF(S, ZeroPadding2D)                 \
  NNLITE_INSTANCE_OF(S, CategoricalCrossentropy)       \
  NNLITE_INSTANCE_OF(S, SparseCategoricalCrossentropy) \
  NNLITE_INSTANCE_OF(S, BinaryCrossentropy)            \
  NNLITE_INSTANCE_OF(S, MeanSquaredError)              \
  NNLITE_INSTANCE_OF(S, MeanAbsoluteError)             \
  NNLITE_INSTANCE_OF(S, KLDivergence)                  \
  NNLITE_INSTANCE_OF(S, CategoricalHinge)              \
  NNLITE_INSTANCE_OF(S, Huber)                         \
  NNLITE_INSTANCE_OF(S, CategoricalAccuracy)           \
  NNLITE_INSTANCE_OF(S, SparseCategoricalAccuracy)     \
  NNLITE_INSTANCE_OF(S, BinaryAccuracy)                \
  NNLITE_INSTANCE_OF(S, TopKCategoricalAccuracy)       \
  NNLITE_INSTANCE_OF(S, PrecisionRecall)               \
  NNLITE_INSTANCE_OF(S, AUC)                           \
  NNLITE_INSTANCE_OF(S, SGD)                           \
  NNLITE_INSTANCE_OF(S, Adam)                          \
  NNLITE_INSTANCE_OF(S, AdamW)                         \
  NNLITE_INSTANCE_OF(S, Adamax)                        \
  NNLITE_INSTANCE_OF(S, Nadam)                         \
  NNLITE_INSTANCE_OF(S, RMSprop)                       \
  NNLITE_INSTANCE_OF(S, Adagrad)                       \
  NNLITE_INSTANCE_OF(S, EarlyStopping)                 \
  NNLITE_INSTANCE_OF(S, ReduceLROnPlateau)             \
  NNLITE_INSTANCE_OF(S, LearningRateScheduler)         \
  NNLITE_INSTANCE_OF(S, TerminateOnNaN)                \
  NNLITE_INSTANCE_OF(S, LambdaCallback)                \
  NNLITE_INSTANCE_OF(S, ProgressBar)                   \
  NNLITE_INSTANCE_OF(S, TensorSource)                  \
  NNLITE_INSTANCE_OF(S, SubsetSource)                  \
  NNLITE_INSTANCE_OF(S, Trainer)                       \
  NNLITE_INSTANCE_OF(S, Sequential)

/// Declares nnlite::X<S> compiled elsewhere (an explicit instantiation declaration).
#define NNLITE_EXTERN_INSTANCE(S, X) extern template class nnlite::X<S>;
/// Compiles nnlite::X<S> here (an explicit instantiation definition).
#define NNLITE_DEFINE_INSTANCE(S, X) template class nnlite::X<S>;

#ifdef NNLITE_INSTANTIATE
// The one file of the program that compiles the instances of NNLITE_INSTANTIATE (float or double).
NNLITE_INSTANCE_LIST(NNLITE_INSTANTIATE, NNLITE_DEFINE_INSTANCE)
#else
NNLITE_INSTANCE_LIST(float, NNLITE_EXTERN_INSTANCE)
NNLITE_INSTANCE_LIST(double, NNLITE_EXTERN_INSTANCE)
#endif
