// nnlite/plot.hpp: optional PNG figures (training curves, confusion matrix, image grid, model diagram) on a
// small RGB canvas; needs only stb_image_write.h and stb_easy_font.h (link nnlite::plot), no other nnlite parts.
#pragma once

#include "plot/canvas.hpp"
#include "plot/chart.hpp"
#include "plot/figures.hpp"
