"""One training step (forward, backward, Adam) of the CNN and the hypothesis model
on a batch of 250 MNIST-sized inputs, plain, in channels-last memory format, and
through torch.compile, as achieved GFLOP/s against a 2048^3 float32 matrix product
measured in the same run (2 threads)::

    python3 tools/train_step_variants.py cnn,hcc default,cl,compile
"""

import time, sys, torch, torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode
from sk_guessfirst.modules import CNNModule, HypothesisConditionedModule
torch.set_num_threads(2)
torch.manual_seed(0)
B=250
x=torch.rand(B,1,28,28); y=torch.randint(0,10,(B,))
def make(kind):
    if kind=="cnn": return CNNModule((1,28,28),10)
    return HypothesisConditionedModule((1,28,28),10)
def loss_of(m,kind,x):
    out=m(x)
    return F.cross_entropy(out,y)
def bench(kind, variant, steps=12):
    m=make(kind); xx=x
    if "cl" in variant:
        m=m.to(memory_format=torch.channels_last); xx=x.contiguous(memory_format=torch.channels_last)
    opt=torch.optim.Adam(m.parameters())
    fn=lambda: loss_of(m,kind,xx)
    if "compile" in variant:
        cm=torch.compile(m)
        fn=lambda: F.cross_entropy(cm(xx),y)
    def step():
        opt.zero_grad(); l=fn(); l.backward(); opt.step()
    with FlopCounterMode(display=False) as fc:
        l=loss_of(m,kind,xx); l.backward()
    flops=fc.get_total_flops()
    for _ in range(3): step()
    t=time.perf_counter()
    for _ in range(steps): step()
    dt=(time.perf_counter()-t)/steps
    return dt, flops/dt/1e9
a=torch.rand(2048,2048); b=torch.rand(2048,2048)
for _ in range(2): a@b
t=time.perf_counter()
for _ in range(5): a@b
peak=2*2048**3/((time.perf_counter()-t)/5)/1e9
print(f"peak {peak:.0f} GFLOP/s")
for kind in sys.argv[1].split(","):
    for variant in sys.argv[2].split(","):
        try:
            dt,g=bench(kind,variant)
            print(f"{kind:5s} {variant:12s} {dt*1000:7.1f} ms/step  {g:6.1f} GFLOP/s  {g/peak:.0%}", flush=True)
        except Exception as e:
            print(kind, variant, "failed", type(e).__name__, str(e)[:200], flush=True)
