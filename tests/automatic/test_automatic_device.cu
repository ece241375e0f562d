// fftconv::automatic on the GPU (runs only with one): the same checks as on the host, timed with the stream
// synchronised; and no timing while the stream is captured into a CUDA graph.
#include "../support/device_buffer.cuh"
#include "automatic_checks.hpp"

using fftconv::automatic_mode;
using testing_support::test_stream;

TEST_CASE("automatic device: clear-cut picks, measured (model-pruned and exhaustive) and modelled") {
  test_stream s;
  for (automatic_mode mode : {automatic_mode::measure, automatic_mode::exhaustive, automatic_mode::heuristic}) {
    automatic_checks::check_pick<float>(s.executor(), automatic_checks::pointwise_layer(), mode, {fftconv::algorithm::im2col});
    automatic_checks::check_pick<float>(s.executor(), automatic_checks::large_kernel_layer(), mode, {fftconv::algorithm::fft});
    automatic_checks::check_pick<double>(s.executor(), automatic_checks::tiny_image_layer(), mode, {fftconv::algorithm::naive, fftconv::algorithm::im2col});
  }
}

TEST_CASE("automatic device: cache hits, save and load, threads with their own streams") {
  test_stream s;
  automatic_checks::check_cache_hits<float>(s.executor());
  automatic_checks::check_save_and_load<float>(s.executor(), "automatic_choices_device_test.txt");
  automatic_checks::check_concurrent_first_calls<float, fftconv::device>([] { return test_stream{}; }, 4);
}

TEST_CASE("automatic device: a candidate out of memory or over the workspace limit, no dependence on scratch addresses, the functional form") {
  test_stream s;
  automatic_checks::check_candidate_out_of_memory<float>(s.executor());
  automatic_checks::check_workspace_limit<float>(s.executor(), automatic_mode::measure);
  automatic_checks::check_workspace_limit<float>(s.executor(), automatic_mode::heuristic);
  automatic_checks::check_no_address_dependence<float>(s.executor());
  automatic_checks::check_functional_per_pass<float>(s.executor());
}

TEST_CASE("automatic device: saved states read by the algorithm that wrote them, backward without one, saved_bytes") {
  test_stream s;
  automatic_checks::check_saved_state_read_by_its_producer<float>(s.executor(), automatic_checks::large_kernel_layer(),
                                                                  {fftconv::algorithm::fft}, "automatic_saved_state_device_test.txt");
  automatic_checks::check_saved_state_read_by_its_producer<double>(s.executor(), automatic_checks::tiny_image_layer(),
                                                                   {fftconv::algorithm::naive, fftconv::algorithm::im2col}, "automatic_saved_state_device_test.txt");
  for (automatic_mode mode : {automatic_mode::heuristic, automatic_mode::measure})
    automatic_checks::check_backward_without_saved_state<float>(s.executor(), automatic_checks::tiny_image_layer(), mode);
  automatic_checks::check_saved_bytes<float>(s.executor(), automatic_checks::large_kernel_layer());
  automatic_checks::check_constant_weights_after_timing<float>(s.executor());
}

TEST_CASE("automatic device: under stream capture the heuristic picks and nothing is timed") {
  test_stream s;
  automatic_checks::start_clean(automatic_mode::measure);
  const reference::layer L = automatic_checks::tiny_image_layer();
  automatic_checks::layer_data<2, float, fftconv::device> data(s.executor(), L, 60);
  {
    // Plans and workspace first, outside the capture, under the heuristic, so the captured call allocates
    // nothing; then the measure-mode layer's first call is the captured one.
    fftconv::conv<2, float, fftconv::automatic> warm(testing_support::geometry_of<2>(L));
    warm.set_mode(automatic_mode::heuristic);
    data.forward(warm, s.executor());
    testing_support::expect_cuda(cudaStreamSynchronize(s.get()), "sync");
  }
  fftconv::conv<2, float, fftconv::automatic> layer(testing_support::geometry_of<2>(L));
  layer.set_mode(automatic_mode::heuristic);
  data.forward(layer, s.executor());  // the heuristic's pick holds its workspace from here on
  layer.set_mode(automatic_mode::measure);
  cudaGraph_t graph = nullptr;
  testing_support::expect_cuda(cudaStreamBeginCapture(s.get(), cudaStreamCaptureModeThreadLocal), "begin capture");
  bool threw = false;
  try {
    data.forward(layer, s.executor());
  } catch (...) {
    threw = true;
  }
  testing_support::expect_cuda(cudaStreamEndCapture(s.get(), &graph), "end capture");
  CHECK_FALSE(threw);
  CHECK(fftconv::automatic_choice_statistics().measurements == 0);
  CHECK(layer.choice().reason.find("captured") != std::string::npos);
  if (graph != nullptr) {
    cudaGraphExec_t instance = nullptr;
    testing_support::expect_cuda(cudaGraphInstantiate(&instance, graph, 0), "instantiate");
    testing_support::expect_cuda(cudaGraphLaunch(instance, s.get()), "launch");
    testing_support::expect_cuda(cudaStreamSynchronize(s.get()), "sync");
    data.check_forward();
    (void)cudaGraphExecDestroy(instance);
    (void)cudaGraphDestroy(graph);
  }
}
